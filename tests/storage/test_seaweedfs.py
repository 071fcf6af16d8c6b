"""StorageClient and Storage against a real SeaweedFS: round trips, errors, batching, URLs."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from botocore.exceptions import ClientError
from pydantic import SecretStr

from storage_jobs.devstack import FaultProxy, FaultRules, S3Identity, SeaweedFS
from storage_jobs.devstack.ports import free_port
from storage_jobs.storage import (
    DELETE_BATCH_SIZE,
    ObjectInfo,
    Storage,
    StorageAccessDeniedError,
    StorageBackendError,
    StorageBucketNotFoundError,
    StorageClient,
    StorageConfig,
    StorageNotConnectedError,
    StorageObjectNotFoundError,
    StoragePartialDeleteError,
)
from tests.fixtures_e2e import fill

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
SIGV4 = "X-Amz-Algorithm=AWS4-HMAC-SHA256"


# -- helpers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpAnswer:
    """What a plain HTTP request got back (header names lower-cased)."""

    status: int
    headers: dict[str, str]
    body: bytes


def _http_sync(method: str, url: str, data: bytes | None, headers: dict[str, str]) -> HttpAnswer:
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return HttpAnswer(
                resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
            )
    except urllib.error.HTTPError as exc:
        return HttpAnswer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


async def http(
    method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> HttpAnswer:
    """A plain (unsigned, non-boto) HTTP request, off the event loop."""
    return await asyncio.to_thread(_http_sync, method, url, data, headers or {})


def record_calls(client: StorageClient, operation: str) -> list[dict[str, Any]]:
    """Records the parameters of every call of one S3 operation the client makes."""
    seen: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(params)

    client.s3.meta.events.register(f"provide-client-params.s3.{operation}", record)
    return seen


def record_requests(client: StorageClient, operation: str = "") -> list[Any]:
    """Records every HTTP request (signed, as sent) of one operation, or of all operations."""
    seen: list[Any] = []

    def record(request: Any, **_: Any) -> None:
        seen.append(request)

    event = f"before-send.s3.{operation}" if operation else "before-send.s3"
    client.s3.meta.events.register(event, record)
    return seen


async def put_many(client: StorageClient, bucket: str, keys: Iterable[str]) -> None:
    """Uploads a tiny object per key, 32 at a time."""
    slots = asyncio.Semaphore(32)

    async def one(key: str) -> None:
        async with slots:
            await client.upload_file(bucket=bucket, key=key, data=key.encode())

    await asyncio.gather(*(one(k) for k in keys))


def admin_config(seaweedfs: SeaweedFS, **update: Any) -> StorageConfig:
    """Config for the admin identity, straight at SeaweedFS unless ``endpoint_url`` is given."""
    values: dict[str, Any] = {
        "endpoint_url": seaweedfs.endpoint_url,
        "access_key_id": seaweedfs.access_key,
        "secret_access_key": SecretStr(seaweedfs.secret_key),
        "max_attempts": 2,
        **update,
    }
    return StorageConfig(**values)


def identity_config(seaweedfs: SeaweedFS, identity: S3Identity) -> StorageConfig:
    """Config signing with ``identity``'s keys, without retries."""
    assert identity.access_key is not None
    assert identity.secret_key is not None
    return admin_config(
        seaweedfs,
        access_key_id=identity.access_key,
        secret_access_key=SecretStr(identity.secret_key),
        max_attempts=1,
    )


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


async def drop_bucket(client: StorageClient, bucket: str) -> None:
    """Empties and deletes a bucket (SeaweedFS frees its collection's volumes)."""
    with contextlib.suppress(Exception):
        uploads = await client.s3.list_multipart_uploads(Bucket=bucket)
        for upload in uploads.get("Uploads", []):
            await client.s3.abort_multipart_upload(
                Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
    with contextlib.suppress(Exception):
        await client.delete_files(bucket=bucket, keys=await client.list_files(bucket=bucket))
    with contextlib.suppress(Exception):
        await client.s3.delete_bucket(Bucket=bucket)


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def config(seaweedfs: SeaweedFS) -> StorageConfig:
    """Admin config pointing straight at the session SeaweedFS."""
    return admin_config(seaweedfs)


@pytest.fixture
async def client(config: StorageConfig) -> AsyncIterator[StorageClient]:
    """A connected admin client."""
    async with StorageClient(config) as storage:
        yield storage


async def _fresh_bucket(client: StorageClient) -> AsyncIterator[str]:
    name = f"it-{uuid.uuid4().hex[:12]}"
    await client.s3.create_bucket(Bucket=name)
    yield name
    await drop_bucket(client, name)


@pytest.fixture
async def bucket(client: StorageClient) -> AsyncIterator[str]:
    """A fresh, empty bucket, removed after the test."""
    async for name in _fresh_bucket(client):
        yield name


@pytest.fixture
async def other_bucket(client: StorageClient) -> AsyncIterator[str]:
    """A second fresh bucket, for cross-bucket copies."""
    async for name in _fresh_bucket(client):
        yield name


@pytest.fixture
async def proxy_client(
    seaweedfs: SeaweedFS, fault_proxy: FaultProxy
) -> AsyncIterator[StorageClient]:
    """An admin client talking to SeaweedFS through the fault proxy, one attempt per call."""
    async with StorageClient(
        admin_config(seaweedfs, endpoint_url=fault_proxy.url, max_attempts=1)
    ) as storage:
        yield storage


# -- round trips ------------------------------------------------------------------------------


async def test_upload_fetch_head_exists_delete(client: StorageClient, bucket: str) -> None:
    """upload_file, fetch_file, head_object, file_exists and delete_file agree on one object."""
    data = os.urandom(70_000)
    await client.upload_file(
        bucket=bucket,
        key="dir/a.bin",
        data=data,
        content_type="application/x-test",
        metadata={"author": "user123"},
    )
    assert await client.fetch_file(bucket=bucket, key="dir/a.bin") == data
    head = await client.head_object(bucket=bucket, key="dir/a.bin")
    assert head["key"] == "dir/a.bin"
    assert head["size"] == len(data)
    assert head["etag"] == md5_hex(data)
    assert head["content_type"] == "application/x-test"
    assert head["metadata"] == {"author": "user123"}
    assert isinstance(head["last_modified"], datetime)
    assert await client.file_exists(bucket=bucket, key="dir/a.bin") is True
    assert await client.file_exists(bucket=bucket, key="dir/missing") is False
    await client.delete_file(bucket=bucket, key="dir/a.bin")
    assert await client.file_exists(bucket=bucket, key="dir/a.bin") is False
    await client.delete_file(bucket=bucket, key="dir/a.bin")  # idempotent


async def test_put_bytes_reports_what_was_stored(client: StorageClient, bucket: str) -> None:
    """put_bytes returns size and MD5 ETag; extra_args reach PutObject."""
    info = await client.put_bytes(
        bucket=bucket,
        key="p.txt",
        data=b"payload",
        extra_args={"ContentDisposition": 'attachment; filename="p.txt"'},
    )
    assert info == ObjectInfo(bucket=bucket, key="p.txt", size=7, etag=md5_hex(b"payload"))
    assert not info.is_multipart
    raw = await client.s3.head_object(Bucket=bucket, Key="p.txt")
    assert raw["ContentDisposition"] == 'attachment; filename="p.txt"'


async def test_copy_file_within_and_across_buckets(
    client: StorageClient, bucket: str, other_bucket: str
) -> None:
    """copy_file copies in a bucket and to another bucket, keeping type and metadata."""
    await client.upload_file(
        bucket=bucket, key="src", data=b"copy me", content_type="text/plain", metadata={"m": "1"}
    )
    await client.copy_file(src_bucket=bucket, src_key="src", dst_key="same")
    await client.copy_file(
        src_bucket=bucket, src_key="src", dst_bucket=other_bucket, dst_key="there"
    )
    assert await client.fetch_file(bucket=bucket, key="same") == b"copy me"
    assert await client.fetch_file(bucket=other_bucket, key="there") == b"copy me"
    head = await client.head_object(bucket=other_bucket, key="there")
    assert (head["content_type"], head["metadata"]) == ("text/plain", {"m": "1"})
    assert await client.fetch_file(bucket=bucket, key="src") == b"copy me"


async def test_copy_object_with_known_size_skips_head(
    client: StorageClient, bucket: str, other_bucket: str
) -> None:
    """copy_object with a size is one CopyObject (no HEAD) and reports size and ETag."""
    await client.upload_file(bucket=bucket, key="src", data=b"12345")
    heads = record_calls(client, "HeadObject")
    copies = record_calls(client, "CopyObject")
    info = await client.copy_object(
        src_bucket=bucket, src_key="src", dst_bucket=other_bucket, dst_key="dst", size=5
    )
    assert info == ObjectInfo(bucket=other_bucket, key="dst", size=5, etag=md5_hex(b"12345"))
    assert (len(heads), len(copies)) == (0, 1)
    unsized = await client.copy_object(src_bucket=bucket, src_key="src", dst_key="dst2")
    assert (unsized.bucket, unsized.size, len(heads)) == (bucket, 5, 1)


async def test_list_buckets_sees_new_buckets(
    client: StorageClient, bucket: str, other_bucket: str
) -> None:
    """list_buckets returns the names of the buckets just created."""
    names = await client.list_buckets()
    assert {bucket, other_bucket} <= set(names)


async def test_list_files_and_folder_view_small(client: StorageClient, bucket: str) -> None:
    """list_files filters by prefix; list_objects splits objects from sub-folders."""
    keys = ["a.txt", "d1/x", "d1/y", "d1/sub/q", "d2/z"]
    await put_many(client, bucket, keys)
    assert await client.list_files(bucket=bucket) == sorted(keys)
    assert await client.list_files(bucket=bucket, prefix="d1/") == ["d1/sub/q", "d1/x", "d1/y"]
    assert await client.list_files(bucket=bucket, max_keys=2) == ["a.txt", "d1/sub/q"]
    top = await client.list_objects(bucket=bucket)
    assert [o["key"] for o in top["objects"]] == ["a.txt"]
    assert top["prefixes"] == ["d1/", "d2/"]
    assert set(top["objects"][0]) == {"key", "size", "etag", "last_modified"}
    assert top["objects"][0]["size"] == len(b"a.txt")
    d1 = await client.list_objects(bucket=bucket, prefix="d1/")
    assert [o["key"] for o in d1["objects"]] == ["d1/x", "d1/y"]
    assert d1["prefixes"] == ["d1/sub/"]


async def test_iter_pages_sizes_start_after_and_limit(client: StorageClient, bucket: str) -> None:
    """iter_pages yields page_size pages, resumes after start_after and stops at limit."""
    keys = [f"k{i:02d}" for i in range(25)]
    await put_many(client, bucket, keys)
    pages = [p async for p in client.iter_pages(bucket=bucket, page_size=10)]
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [o.key for p in pages for o in p] == keys
    first = pages[0][0]
    assert (first.bucket, first.size, first.etag) == (bucket, 3, md5_hex(b"k00"))
    after = [o.key async for p in client.iter_pages(bucket=bucket, start_after="k19") for o in p]
    assert after == keys[20:]
    limited = [p async for p in client.iter_pages(bucket=bucket, page_size=10, limit=12)]
    assert [len(p) for p in limited] == [10, 2]


async def test_streams_and_paths_round_trip(
    client: StorageClient, bucket: str, tmp_path: Path
) -> None:
    """upload_stream (file object and async iterable), upload_path, stream_object, download."""
    data = os.urandom(2_500)
    info = await client.upload_stream(
        bucket=bucket, key="from-fileobj", stream=io.BytesIO(data), content_type="x/y"
    )
    assert (info.size, info.etag) == (len(data), md5_hex(data))

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 700):
            yield data[start : start + 700]

    await client.upload_stream(bucket=bucket, key="from-async", stream=pieces())
    assert await client.fetch_file(bucket=bucket, key="from-async") == data
    chunks = [
        c async for c in client.stream_object(bucket=bucket, key="from-fileobj", chunk_size=1000)
    ]
    assert b"".join(chunks) == data
    assert len(chunks) >= 3
    assert all(len(c) <= 1000 for c in chunks)
    source = tmp_path / "src.bin"
    source.write_bytes(data)
    uploaded = await client.upload_path(bucket=bucket, key="from-path", path=source)
    assert uploaded.etag == md5_hex(data)
    target = tmp_path / "out.bin"
    assert await client.download_to_path(bucket=bucket, key="from-path", path=target) == len(data)
    assert target.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin", "src.bin"]
    assert (await client.head_object(bucket=bucket, key="from-fileobj"))["content_type"] == "x/y"


async def test_storage_facade_methods(
    seaweedfs: SeaweedFS, bucket: str, other_bucket: str, tmp_path: Path
) -> None:
    """The bucket-bound Storage facade does every reference call against SeaweedFS."""
    local = tmp_path / "file.txt"
    local.write_bytes(b"facade")
    async with Storage(
        bucket_name=bucket,
        endpoint_url=seaweedfs.endpoint_url,
        aws_access_key_id=seaweedfs.access_key,
        aws_secret_access_key=seaweedfs.secret_key,
    ) as storage:
        info = await storage.upload_file(local, "remote/file.txt", content_type="text/plain")
        assert (info.bucket, info.key, info.size) == (bucket, "remote/file.txt", 6)
        assert await storage.fetch_file("remote/file.txt") == b"facade"
        await storage.upload_bytes("remote/b.bin", b"bytes", metadata={"k": "v"})
        assert (await storage.head_object("remote/b.bin"))["metadata"] == {"k": "v"}
        assert await storage.file_exists("remote/b.bin") is True
        assert await storage.file_exists("remote/nope") is False
        out = tmp_path / "down.txt"
        assert await storage.download_file("remote/file.txt", out) == 6
        assert out.read_bytes() == b"facade"
        await storage.copy_file("remote/file.txt", "copy.txt")
        await storage.copy_file("remote/file.txt", "x.txt", dst_bucket=other_bucket)
        assert await storage.client.fetch_file(bucket=other_bucket, key="x.txt") == b"facade"
        assert await storage.list_files() == ["copy.txt", "remote/b.bin", "remote/file.txt"]
        assert await storage.list_files(prefix="remote/", max_keys=1) == ["remote/b.bin"]
        view = await storage.list_objects()
        assert ([o["key"] for o in view["objects"]], view["prefixes"]) == (
            ["copy.txt"],
            ["remote/"],
        )
        url = storage.get_url("remote/file.txt")
        assert url == f"{seaweedfs.endpoint_url}/{bucket}/remote/file.txt"
        assert (await http("GET", url)).body == b"facade"
        signed = await storage.signed_download_url("remote/file.txt", expires_in=60)
        assert SIGV4 in signed
        assert (await http("GET", signed)).body == b"facade"
        put_url = await storage.signed_upload_url("up.txt", content_type="text/plain")
        put = await http("PUT", put_url, b"up", {"Content-Type": "text/plain"})
        assert put.status == 200
        assert await storage.fetch_file("up.txt") == b"up"
        await storage.delete_file("copy.txt")
        deleted = await storage.delete_files(["remote/b.bin", "up.txt"])
        assert sorted(deleted) == ["remote/b.bin", "up.txt"]
        assert await storage.list_files() == ["remote/file.txt"]
    with pytest.raises(StorageNotConnectedError):
        await storage.fetch_file("remote/file.txt")


# -- errors -----------------------------------------------------------------------------------


async def test_missing_key_errors(client: StorageClient, bucket: str, tmp_path: Path) -> None:
    """A missing key raises StorageObjectNotFoundError with bucket, key and a chained cause."""
    with pytest.raises(StorageObjectNotFoundError) as fetched:
        await client.fetch_file(bucket=bucket, key="no/such/key")
    err = fetched.value
    assert (err.bucket, err.key, err.code, err.status) == (bucket, "no/such/key", "NoSuchKey", 404)
    assert isinstance(err.__cause__, ClientError)
    with pytest.raises(StorageObjectNotFoundError) as headed:
        await client.head_object(bucket=bucket, key="no/such/key")
    assert (headed.value.bucket, headed.value.key) == (bucket, "no/such/key")
    assert isinstance(headed.value.__cause__, ClientError)
    with pytest.raises(StorageObjectNotFoundError):
        async for _ in client.stream_object(bucket=bucket, key="no/such/key"):
            pass
    with pytest.raises(StorageObjectNotFoundError):
        await client.download_to_path(bucket=bucket, key="no/such/key", path=tmp_path / "o")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StorageObjectNotFoundError) as copied:
        await client.copy_file(src_bucket=bucket, src_key="no/src", dst_key="dst")
    assert (copied.value.bucket, copied.value.key) == (bucket, "no/src")


async def test_missing_bucket_errors(client: StorageClient, bucket: str) -> None:
    """A missing bucket raises StorageBucketNotFoundError everywhere, file_exists included."""
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(StorageBucketNotFoundError) as fetched:
        await client.fetch_file(bucket=missing, key="k")
    assert (fetched.value.bucket, fetched.value.code) == (missing, "NoSuchBucket")
    assert isinstance(fetched.value.__cause__, ClientError)
    with pytest.raises(StorageBucketNotFoundError) as exists:
        await client.file_exists(bucket=missing, key="k")
    assert exists.value.bucket == missing
    assert exists.value.__cause__ is not None
    with pytest.raises(StorageBucketNotFoundError):
        await client.head_object(bucket=missing, key="k")
    with pytest.raises(StorageBucketNotFoundError):
        await client.list_files(bucket=missing)
    with pytest.raises(StorageBucketNotFoundError):
        await client.list_objects(bucket=missing)
    with pytest.raises(StorageBucketNotFoundError):
        await client.delete_files(bucket=missing, keys=["a", "b"])
    with pytest.raises(StorageBucketNotFoundError):
        await client.delete_file(bucket=missing, key="k")
    with pytest.raises(StorageBucketNotFoundError) as from_missing:
        await client.copy_file(src_bucket=missing, src_key="src", dst_bucket=bucket, dst_key="d")
    assert from_missing.value.bucket == missing
    assert missing not in await client.list_buckets()


async def test_copy_to_missing_bucket_is_bucket_not_found(
    client: StorageClient, bucket: str
) -> None:
    """copy_file into a missing destination bucket raises StorageBucketNotFoundError."""
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    await client.upload_file(bucket=bucket, key="src", data=b"x")
    with pytest.raises(StorageBucketNotFoundError) as to_missing:
        await client.copy_file(src_bucket=bucket, src_key="src", dst_bucket=missing, dst_key="d")
    assert to_missing.value.bucket == missing


async def test_readonly_identity_put_is_access_denied(
    seaweedfs: SeaweedFS, client: StorageClient, bucket: str, readonly_identity: S3Identity
) -> None:
    """The read-only identity gets StorageAccessDeniedError (bucket, key, 403) on put/delete."""
    await client.upload_file(bucket=bucket, key="existing", data=b"ro")
    async with StorageClient(identity_config(seaweedfs, readonly_identity)) as readonly:
        with pytest.raises(StorageAccessDeniedError) as put:
            await readonly.upload_file(bucket=bucket, key="new", data=b"x")
        err = put.value
        assert (err.bucket, err.key, err.code, err.status) == (bucket, "new", "AccessDenied", 403)
        assert isinstance(err.__cause__, ClientError)
        with pytest.raises(StorageAccessDeniedError) as deleted:
            await readonly.delete_file(bucket=bucket, key="existing")
        assert deleted.value.key == "existing"
        assert await readonly.fetch_file(bucket=bucket, key="existing") == b"ro"
    assert await client.file_exists(bucket=bucket, key="new") is False
    assert await client.file_exists(bucket=bucket, key="existing") is True


async def test_scoped_identity_partial_delete(
    seaweedfs: SeaweedFS,
    client: StorageClient,
    scoped_bucket: str,
    scoped_identity: S3Identity,
) -> None:
    """A real mixed DeleteObjects answer becomes StoragePartialDeleteError with both sides."""
    tag = uuid.uuid4().hex[:8]
    allowed = [f"allowed/{tag}/a", f"allowed/{tag}/b"]
    denied = [f"other/{tag}/a", f"allowedfoo/{tag}/b"]
    await put_many(client, scoped_bucket, allowed + denied)
    async with StorageClient(identity_config(seaweedfs, scoped_identity)) as scoped:
        with pytest.raises(StoragePartialDeleteError) as info:
            await scoped.delete_files(bucket=scoped_bucket, keys=allowed + denied)
    err = info.value
    assert sorted(err.deleted) == sorted(allowed)
    assert sorted(e["key"] for e in err.errors) == sorted(denied)
    assert {e["code"] for e in err.errors} == {"AccessDenied"}
    assert all(set(e) == {"key", "code", "message"} for e in err.errors)
    assert (err.code, err.bucket) == ("PartialDelete", scoped_bucket)
    for key in allowed:
        assert await client.file_exists(bucket=scoped_bucket, key=key) is False
    for key in denied:
        assert await client.file_exists(bucket=scoped_bucket, key=key) is True
    await client.delete_files(bucket=scoped_bucket, keys=denied)


async def test_closed_port_is_network_error(seaweedfs: SeaweedFS) -> None:
    """A refused connection raises StorageBackendError with code NetworkError and a cause."""
    config = admin_config(
        seaweedfs, endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1
    ).model_copy(update={"connect_timeout": 1.0})
    async with StorageClient(config) as dead:
        with pytest.raises(StorageBackendError) as info:
            await dead.fetch_file(bucket="b", key="k")
        assert (info.value.code, info.value.bucket, info.value.key) == ("NetworkError", "b", "k")
        assert info.value.status is None
        assert info.value.__cause__ is not None
        with pytest.raises(StorageBackendError) as listed:
            await dead.list_buckets()
        assert listed.value.code == "NetworkError"


async def test_not_connected_errors(config: StorageConfig) -> None:
    """Calls before connect() and after disconnect() raise StorageNotConnectedError."""
    storage = StorageClient(config)
    with pytest.raises(StorageNotConnectedError) as before:
        await storage.fetch_file(bucket="b", key="k")
    assert before.value.code == "NotConnected"
    with pytest.raises(StorageNotConnectedError):
        _ = storage.s3
    await storage.connect()
    assert isinstance(await storage.list_buckets(), list)
    await storage.disconnect()
    with pytest.raises(StorageNotConnectedError):
        await storage.list_files(bucket="b")
    with pytest.raises(StorageNotConnectedError):
        async for _ in storage.stream_object(bucket="b", key="k"):
            pass


# -- DeleteObjects: checksums, batching, injected failures ---------------------------------------


async def test_delete_objects_sends_a_checksum_header(client: StorageClient, bucket: str) -> None:
    """DeleteObjects carries the checksum S3 requires; PutObject carries none (when_required)."""
    await put_many(client, bucket, ["a", "b"])
    deletes = record_requests(client, "DeleteObjects")
    puts = record_requests(client, "PutObject")
    assert sorted(await client.delete_files(bucket=bucket, keys=["a", "b"])) == ["a", "b"]
    await client.upload_file(bucket=bucket, key="c", data=b"c")
    assert len(deletes) == 1
    headers = {k.lower(): v for k, v in deletes[0].headers.items()}
    checksums = sorted(h for h in headers if h == "content-md5" or h.startswith("x-amz-checksum-"))
    print(f"DeleteObjects checksum headers: {checksums}")
    assert checksums, f"no checksum header in {sorted(headers)}"
    put_headers = {k.lower() for k in puts[0].headers}
    assert not {h for h in put_headers if h.startswith("x-amz-checksum-")}
    assert await client.list_files(bucket=bucket) == ["c"]


async def test_delete_2500_keys_in_three_batches(
    client: StorageClient,
    proxy_client: StorageClient,
    bucket: str,
    fault_proxy: FaultProxy,
    seaweedfs: SeaweedFS,
) -> None:
    """2,500 keys (plus duplicates) go in exactly 3 DeleteObjects of <= 1,000 keys each."""
    keys = [f"bulk/{i:05d}" for i in range(2_500)]
    await fill(seaweedfs, bucket, keys)  # setup through the filer: only the deletes are tested
    deleted = await proxy_client.delete_files(bucket=bucket, keys=keys + keys[:10])
    assert len(deleted) == len(keys)
    assert sorted(deleted) == keys
    batches = fault_proxy.delete_batches
    assert sorted(len(b) for b in batches) == [500, DELETE_BATCH_SIZE, DELETE_BATCH_SIZE]
    assert sorted(k for b in batches for k in b) == keys
    assert fault_proxy.stats["delete_requests"] == 3
    assert await client.list_files(bucket=bucket) == []


async def test_injected_per_key_delete_failures(
    client: StorageClient, proxy_client: StorageClient, bucket: str, fault_proxy: FaultProxy
) -> None:
    """Per-key DeleteObjects errors are reported with their codes; failed objects remain."""
    keys = ["k1", "k2", "k3", "k4"]
    await put_many(client, bucket, keys)
    fault_proxy.rules = FaultRules(delete_errors={"k1": "InternalError", "k2": "SlowDown"})
    with pytest.raises(StoragePartialDeleteError) as info:
        await proxy_client.delete_files(bucket=bucket, keys=keys)
    err = info.value
    assert {e["key"]: e["code"] for e in err.errors} == {"k1": "InternalError", "k2": "SlowDown"}
    assert len(err.errors) == 2
    assert sorted(err.deleted) == ["k3", "k4"]
    assert await client.list_files(bucket=bucket) == ["k1", "k2"]


async def test_whole_batch_503_is_reported_per_key(
    client: StorageClient, proxy_client: StorageClient, bucket: str, fault_proxy: FaultProxy
) -> None:
    """A DeleteObjects answered 503 SlowDown fails every key of its batch, code SlowDown."""
    keys = [f"s/{i}" for i in range(5)]
    await put_many(client, bucket, keys)
    fault_proxy.rules = FaultRules(slowdown_rate=1.0, methods=frozenset({"POST"}))
    with pytest.raises(StoragePartialDeleteError) as info:
        await proxy_client.delete_files(bucket=bucket, keys=keys)
    err = info.value
    assert err.deleted == []
    assert sorted(e["key"] for e in err.errors) == keys
    assert {e["code"] for e in err.errors} == {"SlowDown"}
    assert fault_proxy.stats["slowdown"] == 1  # max_attempts=1: no retry
    assert await client.list_files(bucket=bucket) == keys


# -- presigned URLs ---------------------------------------------------------------------------


async def test_presigned_get_overrides_response_headers(client: StorageClient, bucket: str) -> None:
    """A presigned GET returns the body with the signed Content-Disposition and Content-Type."""
    await client.upload_file(bucket=bucket, key="r/report.bin", data=b"%PDF-1", content_type="x/y")
    disposition = 'attachment; filename="report.pdf"'
    url = await client.signed_download_url(
        bucket=bucket,
        key="r/report.bin",
        expires_in=120,
        response_content_disposition=disposition,
        response_content_type="application/pdf",
    )
    assert SIGV4 in url
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["120"]
    assert query["response-content-disposition"] == [disposition]
    answer = await http("GET", url)
    assert answer.status == 200
    assert answer.body == b"%PDF-1"
    assert answer.headers["content-disposition"] == disposition
    assert answer.headers["content-type"] == "application/pdf"
    tampered = url.replace("application%2Fpdf", "text%2Fhtml")
    assert tampered != url
    assert (await http("GET", tampered)).status == 403


async def test_presigned_put_with_content_type(client: StorageClient, bucket: str) -> None:
    """A presigned PUT signed with a content type uploads with it and rejects another one."""
    url = await client.signed_upload_url(bucket=bucket, key="up/data.csv", content_type="text/csv")
    assert SIGV4 in url
    assert "content-type" in parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0]
    answer = await http("PUT", url, b"a,b\n1,2\n", {"Content-Type": "text/csv"})
    assert answer.status == 200, answer.body
    assert await client.fetch_file(bucket=bucket, key="up/data.csv") == b"a,b\n1,2\n"
    head = await client.head_object(bucket=bucket, key="up/data.csv")
    assert head["content_type"] == "text/csv"
    wrong = await http("PUT", url, b"evil", {"Content-Type": "text/html"})
    assert wrong.status == 403
    assert await client.fetch_file(bucket=bucket, key="up/data.csv") == b"a,b\n1,2\n"


# -- listings ---------------------------------------------------------------------------------


async def test_listing_1500_keys(client: StorageClient, bucket: str, seaweedfs: SeaweedFS) -> None:
    """list_files follows pages in order and caps the total; list_objects pages folder views."""
    files = [f"file-{i:04d}" for i in range(1_400)]
    nested = [f"dir-{j:02d}/{leaf}" for j in range(50) for leaf in ("a", "b")]
    keys = sorted(files + nested)
    await fill(seaweedfs, bucket, keys)  # setup through the filer: only the listings are tested
    listings = record_calls(client, "ListObjectsV2")
    assert await client.list_files(bucket=bucket) == keys
    assert len(listings) == 2
    listings.clear()
    assert await client.list_files(bucket=bucket, max_keys=1_234) == keys[:1_234]
    assert [c["MaxKeys"] for c in listings] == [1_000, 234]
    assert await client.list_files(bucket=bucket, prefix="dir-") == nested
    listings.clear()
    view = await client.list_objects(bucket=bucket, max_keys=100)
    assert [o["key"] for o in view["objects"]] == files
    assert view["prefixes"] == [f"dir-{j:02d}/" for j in range(50)]
    assert len(listings) >= 14
    sub = await client.list_objects(bucket=bucket, prefix="dir-07/", max_keys=1)
    assert ([o["key"] for o in sub["objects"]], sub["prefixes"]) == (["dir-07/a", "dir-07/b"], [])


# -- public URLs ------------------------------------------------------------------------------

ODD_KEYS = (
    "with space.txt",
    "hash#frag.txt",
    "what?q=1&x=2",
    "plus+sign.txt",
    "pct%20literal.txt",
    "ünïcödé/日本語.txt",
    "mixed dir/a b#c?d+e%f;g=h.txt",
)


async def test_get_url_fetches_odd_keys(client: StorageClient, bucket: str) -> None:
    """get_url percent-encodes any key so an anonymous plain GET returns that object."""
    for n, key in enumerate(ODD_KEYS):
        await client.upload_file(bucket=bucket, key=key, data=f"body-{n}".encode())
    assert await client.list_files(bucket=bucket) == sorted(ODD_KEYS, key=str.encode)
    for n, key in enumerate(ODD_KEYS):
        url = client.get_url(bucket=bucket, key=key)
        assert url == f"{client.config.endpoint_url}/{bucket}/{quote(key, safe='/')}"
        answer = await http("GET", url)
        assert (answer.status, answer.body) == (200, f"body-{n}".encode()), key
    put = await http("PUT", client.get_url(bucket=bucket, key="anon"), b"x")
    assert put.status == 403  # anonymous may read, never write
    assert await client.file_exists(bucket=bucket, key="anon") is False


async def test_signed_urls_and_bulk_delete_of_odd_keys(client: StorageClient, bucket: str) -> None:
    """Presigned GET/PUT and DeleteObjects handle keys with spaces, #, ?, +, % and non-ASCII."""
    for n, key in enumerate(ODD_KEYS):
        put_url = await client.signed_upload_url(bucket=bucket, key=key, content_type="text/x")
        put = await http("PUT", put_url, f"signed-{n}".encode(), {"Content-Type": "text/x"})
        assert put.status == 200, (key, put.body)
        get = await http("GET", await client.signed_download_url(bucket=bucket, key=key))
        assert (get.status, get.body) == (200, f"signed-{n}".encode()), key
    deleted = await client.delete_files(bucket=bucket, keys=ODD_KEYS)
    assert sorted(deleted) == sorted(ODD_KEYS)
    assert await client.list_files(bucket=bucket) == []


async def test_get_url_with_public_base(config: StorageConfig, bucket: str) -> None:
    """With public_urls configured, get_url builds on that base and the URL fetches."""
    base = f"{config.endpoint_url}/{bucket}/"
    public = config.model_copy(update={"public_urls": {bucket: base.rstrip("/")}})
    async with StorageClient(public) as storage:
        await storage.upload_file(bucket=bucket, key="pub/a b+c.txt", data=b"public")
        url = storage.get_url(bucket=bucket, key="pub/a b+c.txt")
        assert url == f"{base}pub/a%20b%2Bc.txt"
        assert (await http("GET", url)).body == b"public"
        other = storage.get_url(bucket="elsewhere", key="k")
        assert other == f"{config.endpoint_url}/elsewhere/k"
    no_endpoint = StorageClient(StorageConfig(public_urls={bucket: "https://cdn.example"}))
    assert no_endpoint.get_url(bucket=bucket, key="k") == "https://cdn.example/k"
    with pytest.raises(ValueError, match="no public URL"):
        no_endpoint.get_url(bucket="unknown", key="k")


# -- multipart --------------------------------------------------------------------------------


async def test_multipart_copy_is_byte_identical(
    config: StorageConfig, bucket: str, other_bucket: str
) -> None:
    """Above copy_multipart_threshold a copy uses UploadPartCopy and keeps bytes and metadata."""
    lowered = config.model_copy(
        update={"copy_multipart_threshold": 5 * MiB, "multipart_chunksize": 5 * MiB}
    )
    data = os.urandom(12 * MiB + 3)
    async with StorageClient(lowered) as storage:
        await storage.upload_file(
            bucket=bucket, key="big", data=data, content_type="video/x-test", metadata={"a": "b"}
        )
        part_copies = record_calls(storage, "UploadPartCopy")
        copies = record_calls(storage, "CopyObject")
        info = await storage.copy_object(
            src_bucket=bucket, src_key="big", dst_bucket=other_bucket, dst_key="big-copy"
        )
        assert (len(part_copies), len(copies)) == (3, 0)
        assert [c["CopySourceRange"] for c in part_copies] == [
            f"bytes=0-{5 * MiB - 1}",
            f"bytes={5 * MiB}-{10 * MiB - 1}",
            f"bytes={10 * MiB}-{12 * MiB + 2}",
        ]
        assert (info.size, info.bucket, info.key) == (len(data), other_bucket, "big-copy")
        assert await storage.fetch_file(bucket=other_bucket, key="big-copy") == data
        head = await storage.head_object(bucket=other_bucket, key="big-copy")
        assert (head["size"], head["content_type"], head["metadata"]) == (
            len(data),
            "video/x-test",
            {"a": "b"},
        )


async def test_multipart_upload_path_and_download(
    client: StorageClient, bucket: str, tmp_path: Path
) -> None:
    """A 40 MiB upload_path goes multipart; download_to_path gives the same bytes back."""
    data = os.urandom(40 * MiB)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    parts = record_calls(client, "UploadPart")
    puts = record_calls(client, "PutObject")
    info = await client.upload_path(
        bucket=bucket, key="big.bin", path=source, content_type="application/octet-stream"
    )
    assert (len(parts), len(puts)) == (5, 0)
    assert info.size == len(data)
    assert info.is_multipart
    target = tmp_path / "back.bin"
    assert await client.download_to_path(bucket=bucket, key="big.bin", path=target) == len(data)
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert (await client.head_object(bucket=bucket, key="big.bin"))["size"] == len(data)


async def test_failed_stream_leaves_no_multipart_upload(config: StorageConfig, bucket: str) -> None:
    """A stream failing mid-multipart raises its own error and the upload is aborted."""
    small = config.model_copy(
        update={"multipart_threshold": 5 * MiB, "multipart_chunksize": 5 * MiB}
    )

    async def broken() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield os.urandom(5 * MiB)
        await asyncio.sleep(0.3)  # let parts reach the server before the failure
        raise RuntimeError("source broke")

    async with StorageClient(small) as storage:
        # Positive control: an upload left open does show in the listing.
        created = await storage.s3.create_multipart_upload(Bucket=bucket, Key="control")
        listed = await storage.s3.list_multipart_uploads(Bucket=bucket)
        assert [u["Key"] for u in listed.get("Uploads", [])] == ["control"]
        await storage.s3.abort_multipart_upload(
            Bucket=bucket, Key="control", UploadId=created["UploadId"]
        )
        parts = record_calls(storage, "UploadPart")
        aborts = record_calls(storage, "AbortMultipartUpload")
        with pytest.raises(RuntimeError, match="source broke"):
            await storage.upload_stream(bucket=bucket, key="broken", stream=broken())
        assert len(parts) >= 1
        assert len(aborts) == 1
        listed = await storage.s3.list_multipart_uploads(Bucket=bucket)
        assert listed.get("Uploads", []) == []
        assert await storage.file_exists(bucket=bucket, key="broken") is False


# -- addressing -------------------------------------------------------------------------------


async def test_requests_use_path_style(client: StorageClient, bucket: str) -> None:
    """Requests go to <endpoint>/<bucket>/<key>, never to a bucket sub-domain."""
    sent = record_requests(client)
    await client.upload_file(bucket=bucket, key="p/q.txt", data=b"1")
    await client.fetch_file(bucket=bucket, key="p/q.txt")
    assert client.config.addressing_style == "path"
    assert [r.method for r in sent] == ["PUT", "GET"]
    for request in sent:
        assert request.url.startswith(f"{client.config.endpoint_url}/{bucket}/p/q.txt")
        assert f"/{bucket}/" in urlsplit(request.url).path
