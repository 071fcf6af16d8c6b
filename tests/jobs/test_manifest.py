"""Manifests streamed from S3 (moto): pages, cursors, and resuming at a byte offset."""

from __future__ import annotations

import gzip
import json

import pytest

from storage_jobs.jobs import Manifest
from storage_jobs.jobs._fanout import Page
from storage_jobs.jobs._manifest import ManifestError, manifest_pages
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
