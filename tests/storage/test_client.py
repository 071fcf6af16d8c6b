"""StorageClient against moto: the reference API and the gaps it closes."""

from __future__ import annotations

import asyncio
import io
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr

from storage_jobs.devstack.ports import free_port
from storage_jobs.storage import (
    DELETE_BATCH_SIZE,
    StorageBackendError,
    StorageBucketNotFoundError,
    StorageClient,
    StorageConfig,
    StorageNotConnectedError,
    StorageObjectNotFoundError,
)
from tests.fixtures_moto import moto_put_many

MiB = 1024 * 1024


def count_calls(client: StorageClient, operation: str) -> list[dict[str, Any]]:
    """Records the parameters of every call of one S3 operation the client makes."""
    seen: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(params)

    client.s3.meta.events.register(f"provide-client-params.s3.{operation}", record)
    return seen


async def test_not_connected_before_connect_and_after_disconnect(
    moto_config: StorageConfig,
) -> None:
    """Every call raises StorageNotConnectedError outside connect()/disconnect()."""
    client = StorageClient(moto_config)
    with pytest.raises(StorageNotConnectedError):
        await client.fetch_file(bucket="b", key="k")
    await client.connect()
    await client.connect()  # idempotent
    assert await client.list_buckets() is not None
    await client.disconnect()
    with pytest.raises(StorageNotConnectedError) as info:
        await client.list_files(bucket="b")
    assert info.value.code == "NotConnected"


async def test_round_trip_and_head(moto_client: StorageClient, moto_bucket: str) -> None:
    """upload_file, fetch_file, head_object and file_exists agree on one object."""
    await moto_client.upload_file(
        bucket=moto_bucket,
        key="a/b.txt",
        data=b"hello",
        content_type="text/plain",
        metadata={"author": "u1"},
    )
    assert await moto_client.fetch_file(bucket=moto_bucket, key="a/b.txt") == b"hello"
    head = await moto_client.head_object(bucket=moto_bucket, key="a/b.txt")
    assert head["size"] == 5
    assert head["content_type"] == "text/plain"
    assert head["metadata"] == {"author": "u1"}
    assert await moto_client.file_exists(bucket=moto_bucket, key="a/b.txt")
    assert not await moto_client.file_exists(bucket=moto_bucket, key="a/missing")


async def test_missing_key_and_bucket_are_told_apart(
    moto_client: StorageClient, moto_bucket: str
) -> None:
    """fetch/head/file_exists raise the specific not-found error with bucket and key."""
    with pytest.raises(StorageObjectNotFoundError) as missing_key:
        await moto_client.fetch_file(bucket=moto_bucket, key="nope")
    assert (missing_key.value.bucket, missing_key.value.key) == (moto_bucket, "nope")
    with pytest.raises(StorageObjectNotFoundError):
        await moto_client.head_object(bucket=moto_bucket, key="nope")
    with pytest.raises(StorageBucketNotFoundError) as missing_bucket:
        await moto_client.fetch_file(bucket="no-such-bucket-x", key="k")
    assert missing_bucket.value.bucket == "no-such-bucket-x"
    # The reference returns False here: a HEAD's bare 404 does not say which is missing.
    with pytest.raises(StorageBucketNotFoundError):
        await moto_client.file_exists(bucket="no-such-bucket-x", key="k")
    assert isinstance(missing_key.value.__cause__, Exception)


async def test_delete_file_is_idempotent(moto_client: StorageClient, moto_bucket: str) -> None:
    """Deleting a missing key succeeds; deleting an existing one removes it."""
    await moto_client.upload_file(bucket=moto_bucket, key="x", data=b"1")
    await moto_client.delete_file(bucket=moto_bucket, key="x")
    await moto_client.delete_file(bucket=moto_bucket, key="x")
    assert not await moto_client.file_exists(bucket=moto_bucket, key="x")


async def test_delete_files_batches_dedupes_and_returns_deleted(
    moto_client: StorageClient, moto_bucket: str
) -> None:
    """2,500 keys (with duplicates) go out as ceil(n/1000) DeleteObjects of <= 1,000 keys."""
    keys = [f"k/{i:05d}" for i in range(2500)]
    moto_put_many(moto_bucket, keys, b"x")
    calls = count_calls(moto_client, "DeleteObjects")
    deleted = await moto_client.delete_files(bucket=moto_bucket, keys=keys + keys[:10])
    assert sorted(deleted) == keys
    sizes = sorted(len(c["Delete"]["Objects"]) for c in calls)
    assert sizes == [500, DELETE_BATCH_SIZE, DELETE_BATCH_SIZE]
    assert await moto_client.list_files(bucket=moto_bucket) == []


async def test_delete_files_of_nothing_sends_nothing(
    moto_client: StorageClient, moto_bucket: str
) -> None:
    """An empty key list returns [] without a request."""
    calls = count_calls(moto_client, "DeleteObjects")
    assert await moto_client.delete_files(bucket=moto_bucket, keys=[]) == []
    assert calls == []


async def test_delete_files_on_missing_bucket(moto_client: StorageClient) -> None:
    """A missing bucket raises StorageBucketNotFoundError, not a partial delete."""
    with pytest.raises(StorageBucketNotFoundError):
        await moto_client.delete_files(bucket="no-such-bucket-y", keys=["a"])


async def test_list_files_follows_pages_and_caps_total(
    moto_client: StorageClient, moto_bucket: str
) -> None:
    """1,500 keys list completely in 1,000-key pages; max_keys caps the total across pages."""
    keys = sorted(f"p/{i:05d}" for i in range(1500))
    moto_put_many(moto_bucket, keys)
    await moto_client.upload_file(bucket=moto_bucket, key="other/x", data=b"")
    calls = count_calls(moto_client, "ListObjectsV2")
    assert await moto_client.list_files(bucket=moto_bucket, prefix="p/") == keys
    assert [c["MaxKeys"] for c in calls] == [1000, 1000]
    calls.clear()
    assert (
        await moto_client.list_files(bucket=moto_bucket, prefix="p/", max_keys=1200) == keys[:1200]
    )
    assert [c["MaxKeys"] for c in calls] == [1000, 200]
    assert await moto_client.list_files(bucket=moto_bucket, prefix="p/", max_keys=0) == []


async def test_list_objects_gives_the_whole_folder_view(
    moto_client: StorageClient, moto_bucket: str
) -> None:
    """Objects and common prefixes are gathered across pages (page size 2 here)."""
    for key in ["d/a.txt", "d/b.txt", "d/c.txt", "d/s1/x", "d/s2/y", "d/s3/z", "e/no"]:
        await moto_client.upload_file(bucket=moto_bucket, key=key, data=b"12")
    view = await moto_client.list_objects(bucket=moto_bucket, prefix="d/", max_keys=2)
    assert [o["key"] for o in view["objects"]] == ["d/a.txt", "d/b.txt", "d/c.txt"]
    assert all(o["size"] == 2 for o in view["objects"])
    assert view["prefixes"] == ["d/s1/", "d/s2/", "d/s3/"]


@pytest.mark.parametrize(
    "key", ["with space.txt", "hash#tag", "q?x=1", "ünïcødé/ファイル", "a+b&c=d;e", "100%"]
)
async def test_get_url_encodes_keys_so_they_fetch(
    moto_client: StorageClient, moto_bucket: str, key: str
) -> None:
    """get_url percent-encodes the key (keeping '/') and the URL fetches the object."""
    await moto_client.upload_file(
        bucket=moto_bucket, key=key, data=key.encode(), extra_args={"ACL": "public-read"}
    )
    url = moto_client.get_url(bucket=moto_bucket, key=key)
    assert " " not in url and "#" not in url and "?" not in url
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url).read())
    assert body == key.encode()


def test_get_url_public_base_and_missing_endpoint() -> None:
    """A public base URL wins; with neither public URL nor endpoint it is a ValueError."""
    client = StorageClient(StorageConfig(public_urls={"pub": "https://cdn.example.com/"}))
    assert client.get_url(bucket="pub", key="a b/c") == "https://cdn.example.com/a%20b/c"
    with pytest.raises(ValueError, match="no public URL"):
        client.get_url(bucket="other", key="k")


async def test_presigned_urls_use_sigv4(moto_client: StorageClient, moto_bucket: str) -> None:
    """Presigned URLs carry SigV4 parameters, with the signed response overrides."""
    down = await moto_client.signed_download_url(
        bucket=moto_bucket,
        key="f.pdf",
        response_content_disposition='attachment; filename="r.pdf"',
        response_content_type="application/pdf",
    )
    up = await moto_client.signed_upload_url(
        bucket=moto_bucket, key="f.pdf", content_type="application/pdf"
    )
    for url in (down, up):
        assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
        assert "Signature=" not in url.replace("X-Amz-Signature=", "")
    assert "response-content-disposition=" in down


async def test_copy_file_single_and_multipart(moto_config: StorageConfig, moto_bucket: str) -> None:
    """Small copies use CopyObject; above the threshold, UploadPartCopy, with metadata kept."""
    config = moto_config.model_copy(update={"copy_multipart_threshold": 6 * MiB})
    data = bytes(range(256)) * (12 * MiB // 256)
    async with StorageClient(config) as client:
        await client.upload_file(
            bucket=moto_bucket, key="big", data=data, content_type="x/y", metadata={"m": "1"}
        )
        await client.upload_file(bucket=moto_bucket, key="small", data=b"s")
        part_copies = count_calls(client, "UploadPartCopy")
        plain_copies = count_calls(client, "CopyObject")
        await client.copy_file(src_bucket=moto_bucket, src_key="big", dst_key="big2")
        await client.copy_file(src_bucket=moto_bucket, src_key="small", dst_key="small2")
        assert len(part_copies) == 2  # 8 MiB + 4 MiB parts
        assert len(plain_copies) == 1
        assert await client.fetch_file(bucket=moto_bucket, key="big2") == data
        head = await client.head_object(bucket=moto_bucket, key="big2")
        assert (head["content_type"], head["metadata"]) == ("x/y", {"m": "1"})
        assert await client.fetch_file(bucket=moto_bucket, key="small2") == b"s"
        with pytest.raises(StorageObjectNotFoundError):
            await client.copy_file(src_bucket=moto_bucket, src_key="missing", dst_key="z")
        with pytest.raises(StorageBucketNotFoundError) as info:
            await client.copy_file(
                src_bucket=moto_bucket, src_key="small", dst_bucket="no-such-dst", dst_key="z"
            )
        assert info.value.bucket == "no-such-dst"


async def test_upload_stream_multipart_bounded_and_download(
    moto_client: StorageClient, moto_bucket: str, tmp_path: Any
) -> None:
    """A 40 MiB file goes up in 8 MiB parts and comes back byte-identical via download_to_path."""
    src = tmp_path / "big.bin"
    src.write_bytes(bytes(range(256)) * (40 * MiB // 256) + b"tail")
    parts = count_calls(moto_client, "UploadPart")
    info = await moto_client.upload_path(bucket=moto_bucket, key="big.bin", path=src)
    assert info.size == src.stat().st_size
    assert info.is_multipart
    assert len(parts) == 6
    assert max(_body_size(p["Body"]) for p in parts) == 8 * MiB
    out = tmp_path / "out.bin"
    assert await moto_client.download_to_path(bucket=moto_bucket, key="big.bin", path=out) == (
        info.size
    )
    assert out.read_bytes() == src.read_bytes()


async def test_upload_stream_small_is_one_put(moto_client: StorageClient, moto_bucket: str) -> None:
    """A stream below the threshold is a single PutObject with its ETag reported."""
    puts = count_calls(moto_client, "PutObject")
    info = await moto_client.upload_stream(
        bucket=moto_bucket, key="s", stream=io.BytesIO(b"abc"), content_type="text/plain"
    )
    assert len(puts) == 1
    assert info.size == 3 and info.etag == "900150983cd24fb0d6963f7d28e17f72"


async def test_failed_multipart_upload_is_aborted(
    moto_client: StorageClient, moto_bucket: str
) -> None:
    """A stream that fails mid-way leaves no incomplete multipart upload behind."""

    async def broken() -> Any:
        yield b"x" * (20 * MiB)
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        await moto_client.upload_stream(bucket=moto_bucket, key="broken", stream=broken())
    uploads = await moto_client.s3.list_multipart_uploads(Bucket=moto_bucket)
    assert uploads.get("Uploads", []) == []
    assert not await moto_client.file_exists(bucket=moto_bucket, key="broken")


async def test_network_failure_is_backend_error() -> None:
    """A refused connection becomes StorageBackendError(code='NetworkError'), chained."""
    config = StorageConfig(
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        access_key_id="a",
        secret_access_key=SecretStr("very-secret-value"),
        max_attempts=1,
        connect_timeout=1,
    )
    async with StorageClient(config) as client:
        with pytest.raises(StorageBackendError) as info:
            await client.fetch_file(bucket="bkt", key="k")
    assert info.value.code == "NetworkError"
    assert info.value.__cause__ is not None
    assert "very-secret-value" not in str(info.value)


def test_config_is_strict_and_hides_secrets() -> None:
    """Unknown fields are refused; secrets never appear in repr."""
    config = StorageConfig(
        access_key_id="AKIA", secret_access_key=SecretStr("s3cr3t"), session_token=SecretStr("tok")
    )
    assert "s3cr3t" not in repr(config) and "tok'" not in repr(config)
    assert "s3cr3t" not in repr(StorageClient(config))
    with pytest.raises(ValueError, match="extra"):
        StorageConfig(endpont_url="http://x")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="http"):
        StorageConfig(endpoint_url="ftp://x")


def _body_size(body: bytes | io.BytesIO) -> int:
    return len(body) if isinstance(body, bytes) else body.getbuffer().nbytes


def _callable_names(obj: object) -> set[str]:
    return {n for n in dir(obj) if not n.startswith("_") and callable(getattr(obj, n))}


def test_reference_methods_exist() -> None:
    """Every method of the reference API is on StorageClient."""
    wanted = {
        "connect",
        "disconnect",
        "get_url",
        "upload_file",
        "fetch_file",
        "delete_file",
        "delete_files",
        "copy_file",
        "file_exists",
        "list_files",
        "signed_download_url",
        "signed_upload_url",
        "list_objects",
        "head_object",
        "list_buckets",
    }
    assert wanted <= _callable_names(StorageClient)


_: Callable[..., Any] = count_calls
