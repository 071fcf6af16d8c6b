"""Job payload models: S3 naming rules, payload rules and the discriminated round trip."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pydantic import ValidationError

from storage_jobs.jobs import CopyJob, DeleteJob, UploadJob, job_adapter


def error_fields(info: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    """The first element of every error location of a ValidationError."""
    return {str(e["loc"][0]) if e["loc"] else "" for e in info.value.errors()}


@pytest.mark.parametrize(
    "bucket",
    [
        "ab",
        "a" * 64,
        "My-Bucket",
        "my_bucket",
        "my..bucket",
        "my.-bucket",
        "my-.bucket",
        "192.168.1.10",
        "-bucket",
        "bucket-",
        ".bucket",
        "",
    ],
)
def test_bad_bucket_names_name_the_bucket_field(bucket: str) -> None:
    """Every broken S3 bucket naming rule fails validation on the ``bucket`` field."""
    with pytest.raises(ValidationError) as info:
        DeleteJob(bucket=bucket, keys=["k"])
    assert error_fields(info) == {"bucket"}


@pytest.mark.parametrize("bucket", ["abc", "a" * 63, "my.bucket-1", "0bucket9", "1.2.3.4x"])
def test_good_bucket_names_pass(bucket: str) -> None:
    """Names within the rules (3 and 63 chars, dots, dashes, digits) are accepted."""
    assert DeleteJob(bucket=bucket, keys=["k"]).bucket == bucket


@pytest.mark.parametrize(
    "key",
    [
        "",
        "a" * 1025,
        "é" * 512 + "a",  # 1025 UTF-8 bytes in 513 characters
        "€" * 341 + "ab",  # 1025 UTF-8 bytes of 3-byte characters
        "a\x00b",
        "a\x01b",
        "a\x08b",
        "a\x0bb",
        "a\x0cb",
        "a\x1fb",
        "a\ufffeb",
        "a\uffffb",
        "lone\ud800surrogate",
    ],
)
def test_bad_keys_are_refused(key: str) -> None:
    """Empty, over 1024 UTF-8 bytes, XML-forbidden or non-UTF-8 keys fail on ``key``."""
    with pytest.raises(ValidationError) as info:
        UploadJob(bucket="bkt", key=key, data=b"x")
    assert error_fields(info) == {"key"}


@pytest.mark.parametrize("key", ["a" * 1024, "é" * 512, "tab\tok", "ü/ß/日本.txt"])
def test_good_keys_pass(key: str) -> None:
    """Keys of exactly 1024 bytes, multibyte text and an XML-legal tab are accepted."""
    assert UploadJob(bucket="bkt", key=key, data=b"x").key == key


def test_delete_keys_are_checked_one_by_one() -> None:
    """A bad key inside DeleteJob.keys fails with its index in the location."""
    with pytest.raises(ValidationError) as info:
        DeleteJob(bucket="bkt", keys=["fine", "bad\x00"])
    assert [e["loc"] for e in info.value.errors()] == [("keys", 1)]


@pytest.mark.parametrize(
    "fields",
    [{}, {"data": b"x", "path": "/srv/f"}],
    ids=["neither", "both"],
)
def test_upload_needs_exactly_one_of_data_and_path(fields: dict[str, Any]) -> None:
    """UploadJob refuses neither and both of ``data`` / ``path``."""
    with pytest.raises(ValidationError, match="exactly one of data or path"):
        UploadJob(bucket="bkt", key="k", **fields)


def test_upload_accepts_empty_inline_data() -> None:
    """Zero bytes of inline data is a valid (empty) object."""
    assert UploadJob(bucket="bkt", key="k", data=b"").data == b""


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("relative/file", "absolute"),
        ("/srv/../etc/passwd", "'..'"),
        ("/srv/a/..", "'..'"),
        ("/srv/a\x00b", "NUL"),
    ],
)
def test_upload_path_must_be_plain(path: str, message: str) -> None:
    """Paths must be absolute, free of '..' parts and of NUL."""
    with pytest.raises(ValidationError, match=message) as info:
        UploadJob(bucket="bkt", key="k", path=path)
    assert error_fields(info) == {"path"}


def test_upload_path_with_dots_in_names_is_fine() -> None:
    """Only a '..' path part is refused, not dots inside names."""
    assert UploadJob(bucket="bkt", key="k", path="/srv/a..b/.hidden").path == "/srv/a..b/.hidden"


def test_metadata_size_cap() -> None:
    """Metadata over 2 KiB (names and values together) is refused, 2 KiB exactly is fine."""
    ok = {"n": "v" * 2047}
    assert UploadJob(bucket="bkt", key="k", data=b"", metadata=ok).metadata == ok
    with pytest.raises(ValidationError, match="at most 2048 bytes") as info:
        UploadJob(bucket="bkt", key="k", data=b"", metadata={"n": "v" * 2048})
    assert error_fields(info) == {"metadata"}


@pytest.mark.parametrize("name", ["", "with space", "co:lon", "naïve", "new\nline"])
def test_metadata_names_must_be_plain_ascii(name: str) -> None:
    """Metadata names must be non-empty ASCII without space, colon or line breaks."""
    with pytest.raises(ValidationError, match="metadata name"):
        UploadJob(bucket="bkt", key="k", data=b"", metadata={name: "v"})


def test_content_type_length_cap() -> None:
    """A content type longer than 255 characters is refused."""
    with pytest.raises(ValidationError) as info:
        UploadJob(bucket="bkt", key="k", data=b"", content_type="a" * 256)
    assert error_fields(info) == {"content_type"}


@pytest.mark.parametrize("dst_bucket", [None, "src"])
def test_copy_onto_itself_is_refused(dst_bucket: str | None) -> None:
    """Copying a key onto itself (same bucket implied or explicit) is refused."""
    with pytest.raises(ValidationError, match="onto itself"):
        CopyJob(src_bucket="src", src_key="k", dst_key="k", dst_bucket=dst_bucket)


def test_copy_to_same_key_in_another_bucket_is_fine() -> None:
    """The same key in another bucket, or another key in the same bucket, is a real copy."""
    assert CopyJob(src_bucket="src", src_key="k", dst_key="k", dst_bucket="dst").dst_key == "k"
    assert CopyJob(src_bucket="src", src_key="k", dst_key="k2").dst_bucket is None


def test_delete_needs_at_least_one_key() -> None:
    """A DeleteJob with no keys is refused on ``keys``."""
    with pytest.raises(ValidationError) as info:
        DeleteJob(bucket="bkt", keys=[])
    assert error_fields(info) == {"keys"}


JOBS = [
    UploadJob(
        bucket="bkt",
        key="dir/ü.bin",
        data=bytes(range(256)),
        content_type="application/octet-stream",
        metadata={"owner": "u1"},
    ),
    UploadJob(bucket="bkt", key="from-file", path="/srv/uploads/f.txt"),
    CopyJob(src_bucket="src", src_key="a", dst_key="b", dst_bucket="dst", skip_if_identical=True),
    DeleteJob(bucket="bkt", keys=["a", "b", "c/d"]),
]


@pytest.mark.parametrize("job", JOBS, ids=lambda j: f"{j.kind}")
def test_job_adapter_round_trips_every_kind(job: UploadJob | CopyJob | DeleteJob) -> None:
    """Every kind survives model JSON -> job_adapter -> JSON unchanged and keeps its type."""
    raw = job.model_dump_json()
    back = job_adapter.validate_json(raw)
    assert type(back) is type(job)
    assert back == job
    assert job_adapter.dump_json(back).decode() == raw


def test_inline_bytes_travel_as_base64() -> None:
    """Inline ``data`` is base64 in JSON, and any byte value survives."""
    job = JOBS[0]
    assert isinstance(job, UploadJob)
    raw = json.loads(job.model_dump_json())
    assert raw["data"] == base64.urlsafe_b64encode(bytes(range(256))).decode()
    assert raw["kind"] == "upload"
    back = job_adapter.validate_json(json.dumps(raw))
    assert isinstance(back, UploadJob)
    assert back.data == bytes(range(256))
    # Producers in other languages may send standard (non URL-safe) base64.
    raw["data"] = base64.b64encode(bytes(range(256))).decode()
    again = job_adapter.validate_json(json.dumps(raw))
    assert isinstance(again, UploadJob)
    assert again.data == bytes(range(256))


def test_unknown_kind_is_rejected() -> None:
    """A payload with a kind nobody registered fails on the discriminator."""
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        job_adapter.validate_json('{"kind": "move", "bucket": "bkt", "keys": ["a"]}')


def test_missing_kind_is_rejected() -> None:
    """A payload without a kind cannot be told apart and is refused."""
    with pytest.raises(ValidationError, match="Unable to extract tag"):
        job_adapter.validate_python({"bucket": "bkt", "keys": ["a"]})


@pytest.mark.parametrize(
    "payload",
    [
        {"kind": "delete", "bucket": "bkt", "keys": ["a"], "force": True},
        {"kind": "copy", "src_bucket": "src", "src_key": "a", "dst_key": "b", "grants": "all"},
        {"kind": "upload", "bucket": "bkt", "key": "k", "data": "", "ttl": 3},
    ],
)
def test_extra_fields_are_rejected(payload: dict[str, Any]) -> None:
    """Unknown fields are an error, not silently dropped."""
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        job_adapter.validate_json(json.dumps(payload))


def test_jobs_are_frozen() -> None:
    """A validated job cannot be changed after the fact (it was checked once)."""
    job = DeleteJob(bucket="bkt", keys=["a"])
    with pytest.raises(ValidationError):
        job.bucket = "Bad_Bucket"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"manifest": {"bucket": "src-b", "key": "m.csv"}}, "not with manifest"),
        ({"src_endpoint": "legacy"}, "not with src_endpoint"),
        ({"delete_extraneous": True}, "not with delete_extraneous"),
        ({"verify": True}, "not with verify"),
        ({"checksum": "crc32c"}, "not with checksum"),
        ({"delete_source": True}, "not with delete_source"),
    ],
)
def test_all_versions_refuses_what_it_cannot_do_saying_why(
    fields: dict[str, Any], why: str
) -> None:
    from storage_jobs.jobs import MigrateJob

    with pytest.raises(ValidationError, match=f"all_versions: {why}: "):
        MigrateJob(src_bucket="src-b", dst_bucket="dst-b", all_versions=True, **fields)


def test_all_versions_works_with_filters_and_a_dry_run() -> None:
    from storage_jobs.jobs import DeletePrefixJob, MigrateJob

    job = MigrateJob(
        src_bucket="src-b",
        dst_bucket="dst-b",
        all_versions=True,
        include=["*.jpg"],
        min_size=1,
        dry_run=True,
        report="all",
    )
    assert job.object_filter().key_selected("a/b.jpg")
    DeletePrefixJob(bucket="src-b", prefix="p/", all_versions=True, exclude=["*.log"])
    with pytest.raises(ValidationError, match="not with manifest"):
        DeletePrefixJob(
            bucket="src-b", prefix="p/", all_versions=True, manifest={"bucket": "b-b", "key": "m"}
        )


@pytest.mark.parametrize("checksum", ["crc32c", "sha256", None])
def test_every_checksum_is_accepted_where_checksums_are(checksum: str | None) -> None:
    from storage_jobs.jobs import MigrateJob, VerifyJob

    for job in (
        UploadJob(bucket="b-b", key="k", data=b"x", checksum=checksum),
        CopyJob(src_bucket="b-b", src_key="a", dst_key="b", checksum=checksum),
        MigrateJob(src_bucket="src-b", dst_bucket="dst-b", checksum=checksum),
        VerifyJob(src_bucket="src-b", dst_bucket="dst-b", checksum=checksum),
    ):
        assert job_adapter.validate_json(job.model_dump_json()) == job
    with pytest.raises(ValidationError):
        CopyJob(src_bucket="b-b", src_key="a", dst_key="b", checksum="md5")


def _retained_by_validation(parse: Any, jobs: int) -> float:
    """Bytes per job still held, after gc, that pydantic's JSON validation allocated."""
    import gc
    import tracemalloc

    import pydantic.main

    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        only = [tracemalloc.Filter(True, pydantic.main.__file__)]
        parse(0, 200)  # warm-up: field names and first strings
        gc.collect()
        before = sum(t.size for t in tracemalloc.take_snapshot().filter_traces(only).traces)
        parse(1_000_000, jobs)
        gc.collect()
        after = sum(t.size for t in tracemalloc.take_snapshot().filter_traces(only).traces)
    finally:
        if started:
            tracemalloc.stop()
    return (after - before) / jobs


@pytest.mark.parametrize("kind", ["copy", "delete", "migrate_batch"])
def test_validating_payloads_keeps_none_of_their_strings(kind: str) -> None:
    """5,000 payloads with new keys each: validation keeps under 4 bytes a job.

    pydantic-core caches every JSON string up to 64 characters by default (16,384 of them, about
    1 MiB per process): a worker kept about 120 bytes a job until the cache filled, the soak
    run's creeping RSS. Job models cache only dict keys (``cache_strings="keys"``).
    """
    from storage_jobs.jobs import MigrateBatchJob, MigrateJob

    spec = MigrateJob(src_bucket="src-bkt", dst_bucket="dst-bkt").model_dump_json()

    def parse(start: int, jobs: int) -> None:
        for n in range(start, start + jobs):
            if kind == "copy":
                raw = json.dumps({"src_bucket": "src-bkt", "src_key": f"in/{n:09d}",
                                  "dst_bucket": "dst-bkt", "dst_key": f"out/{n:09d}"})  # fmt: skip
                CopyJob.model_validate_json(raw)
            elif kind == "delete":
                keys = [f"del/{n:09d}/{k}" for k in range(3)]
                DeleteJob.model_validate_json(json.dumps({"bucket": "dst-bkt", "keys": keys}))
            else:
                objects = [{"key": f"mig/{n:09d}", "etag": f"e{n:031x}"}]
                raw = json.dumps({"migration_id": f"{n:032x}", "batch": 1,
                                  "spec": json.loads(spec), "objects": objects})  # fmt: skip
                MigrateBatchJob.model_validate_json(raw)

    assert _retained_by_validation(parse, 5_000) < 4
