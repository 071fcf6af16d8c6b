"""Manifests streamed from S3 (moto): pages, cursors, and resuming at a byte offset."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from storage_jobs.jobs import Manifest
from storage_jobs.jobs._fanout import Page
from storage_jobs.jobs._manifest import _INFLATE_STEP, ManifestError, _inflate, manifest_pages
from storage_jobs.storage import StorageClient


async def read_all(pages: object, cursor: str | None) -> list[Page]:
    return [page async for page in pages(cursor)]  # type: ignore[operator]


def keys(pages: list[Page]) -> list[str]:
    return [o.key for page in pages for o in page.objects]


@pytest.mark.parametrize("gzipped", [False, True])
async def test_resuming_at_any_page_cursor_yields_exactly_the_rest(
    moto_client: StorageClient, moto_bucket: str, gzipped: bool
) -> None:
    lines = [f"{moto_bucket},p/{i:04d}" for i in range(1000)]
    lines[500] = "not,a,valid,line,at,all"
    body = ("\n".join(lines)).encode()  # no trailing newline: the last line still counts
    key = "m.csv.gz" if gzipped else "m.csv"
    await moto_client.upload_file(
        bucket=moto_bucket, key=key, data=gzip.compress(body) if gzipped else body
    )
    source = manifest_pages(
        moto_client,
        Manifest(bucket=moto_bucket, key=key),
        src_bucket=moto_bucket,
        src_prefix="p/",
        page_size=64,
    )
    whole = await read_all(source, None)
    assert len(keys(whole)) == 999 and len(set(keys(whole))) == 999
    assert sum(len(p.rejected) for p in whole) == 1
    assert whole[-1].cursor == f"0:{len(body)}"
    for n in (1, 7, len(whole) - 1):
        rest = await read_all(source, whole[n - 1].cursor)
        assert keys(rest) == keys(whole[n:])
    assert await read_all(source, whole[-1].cursor) == []


async def test_inventory_spanning_files_resumes_in_the_second_file(
    moto_client: StorageClient, moto_bucket: str
) -> None:
    for n in range(2):
        rows = "".join(f'"{moto_bucket}","k/{n}-{i}","3"\n' for i in range(10))
        await moto_client.upload_file(
            bucket=moto_bucket, key=f"inv/{n}.csv.gz", data=gzip.compress(rows.encode())
        )
    doc = {
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size",
        "files": [{"key": f"inv/{n}.csv.gz"} for n in range(2)],
    }
    await moto_client.upload_file(
        bucket=moto_bucket, key="inv/manifest.json", data=json.dumps(doc).encode()
    )
    source = manifest_pages(
        moto_client,
        Manifest(bucket=moto_bucket, key="inv/manifest.json", format="s3-inventory"),
        src_bucket=moto_bucket,
        src_prefix="k/",
        page_size=4,
    )
    whole = await read_all(source, None)
    assert [o.size for p in whole for o in p.objects] == [3] * 20
    rest = await read_all(source, whole[3].cursor)
    assert whole[3].cursor.startswith("1:") and keys(rest) == keys(whole[4:])

    doc["fileFormat"] = "Parquet"
    await moto_client.upload_file(
        bucket=moto_bucket, key="inv/manifest.json", data=json.dumps(doc).encode()
    )
    with pytest.raises(ManifestError, match="only CSV"):
        await read_all(source, None)


async def test_an_inventory_manifest_json_over_the_cap_is_refused_unread(
    moto_client: StorageClient, moto_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A valid but oversized ``manifest.json`` is refused, read no further than the cap."""
    doc = {
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key",
        "files": [{"key": f"inv/{n:06}.csv.gz"} for n in range(5000)],
    }
    data = json.dumps(doc).encode()
    await moto_client.upload_file(bucket=moto_bucket, key="inv/manifest.json", data=data)
    read: list[int] = []
    streamed = moto_client.stream_object

    async def counted(**kwargs: Any) -> AsyncIterator[bytes]:
        async for chunk in streamed(**kwargs):
            read.append(len(chunk))
            yield chunk

    monkeypatch.setattr(moto_client, "stream_object", counted)
    monkeypatch.setattr("storage_jobs.jobs._manifest._MAX_INVENTORY_JSON", 64 * 1024)
    source = manifest_pages(
        moto_client,
        Manifest(bucket=moto_bucket, key="inv/manifest.json", format="s3-inventory"),
        src_bucket=moto_bucket,
        src_prefix="",
        page_size=4,
    )
    with pytest.raises(ManifestError, match="too large for a manifest"):
        await read_all(source, None)
    assert len(data) > 2 * 64 * 1024 and sum(read) <= 2 * 64 * 1024


async def test_a_gzip_of_several_members_is_read_to_its_end(
    moto_client: StorageClient, moto_bucket: str
) -> None:
    """``cat a.gz b.gz`` is one valid gzip file: every member's lines count."""
    parts = ["".join(f"{moto_bucket},p/{n}-{i}\n" for i in range(5)).encode() for n in range(3)]
    data = b"".join(gzip.compress(part) for part in parts)
    await moto_client.upload_file(bucket=moto_bucket, key="m.csv.gz", data=data)
    source = manifest_pages(
        moto_client,
        Manifest(bucket=moto_bucket, key="m.csv.gz"),
        src_bucket=moto_bucket,
        src_prefix="p/",
        page_size=4,
    )
    whole = await read_all(source, None)
    assert keys(whole) == [f"p/{n}-{i}" for n in range(3) for i in range(5)]
    rest = await read_all(source, whole[1].cursor)  # resumes inside the second member
    assert keys(rest) == keys(whole[2:])

    await moto_client.upload_file(bucket=moto_bucket, key="m.csv.gz", data=data[:-30])
    with pytest.raises(ManifestError, match="truncated"):
        await read_all(source, None)
    await moto_client.upload_file(bucket=moto_bucket, key="m.csv.gz", data=b"plain,text\n")
    with pytest.raises(ManifestError, match="not gzip"):
        await read_all(source, None)


async def test_inflating_never_holds_more_than_a_step() -> None:
    """16 MiB of CSV that gzip squeezes into a few KiB inflates a bounded step at a time."""
    body = b"bucket,photos/the-same-key-again-and-again.jpg\n" * (16 * 2**20 // 47)
    packed = gzip.compress(body)
    assert len(packed) < 100_000

    async def one_chunk() -> AsyncIterator[bytes]:
        yield packed

    sizes = [len(out) async for out in _inflate(one_chunk(), "b/k")]
    assert sum(sizes) == len(body)
    assert max(sizes) <= _INFLATE_STEP < len(body) // 16


@pytest.mark.parametrize("gzipped", [False, True])
async def test_the_first_page_comes_before_the_manifest_is_read(
    moto_client: StorageClient,
    moto_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    gzipped: bool,
) -> None:
    """A 6 MB manifest: its first page is out before 1 MiB of it is read; a page at a time."""
    lines = [f"{moto_bucket},p/{uuid.uuid4().hex}/{i}" for i in range(120_000)]
    body = ("\n".join(lines) + "\n").encode()
    key = "big.csv.gz" if gzipped else "big.csv"
    data = gzip.compress(body) if gzipped else body
    await moto_client.upload_file(bucket=moto_bucket, key=key, data=data)
    assert len(body) > 5 * 2**20 and len(data) > 2 * 2**20
    read = 0
    real = moto_client.stream_object

    async def counted(**kwargs: Any) -> AsyncIterator[bytes]:
        nonlocal read
        async for chunk in real(**kwargs):
            read += len(chunk)
            yield chunk

    monkeypatch.setattr(moto_client, "stream_object", counted)
    source = manifest_pages(
        moto_client,
        Manifest(bucket=moto_bucket, key=key),
        src_bucket=moto_bucket,
        src_prefix="p/",
        page_size=1000,
    )
    pages = source(None)
    first = await anext(pages)
    assert len(first.objects) == 1000 and read <= 2**20
    total = len(first.objects) + sum([len(page.objects) async for page in pages])
    assert total == len(lines) and read == len(data)
