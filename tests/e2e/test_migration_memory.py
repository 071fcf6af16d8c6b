"""Migration memory: never the whole listing, and cross-endpoint copies stream.

The source is a synthetic S3 endpoint behind a source profile (the cross-endpoint path). It lists
``KEYS`` objects with 1,000-byte keys, since putting that many real objects into SeaweedFS would
take minutes while listing them is all the first test needs; it also serves one ``BIG`` object,
made up as it is sent. The listing test's migration is a dry run without identity checks, so its
batches send no S3 request and only record their keys.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from aiohttp import web

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack.workers import peak_rss_bytes
from storage_jobs.jobs import MigrateJob
from storage_jobs.storage import ObjectInfo, StorageClient
from tests.workers import WorkerProcess

pytestmark = pytest.mark.integration

StartWorker = Callable[..., WorkerProcess]

KEYS = 24_000
PAGE = 1000
EARLY_PAGES = 6  # of 24
PREFIX = "mem/"
SRC_BUCKET = "synthetic-src"
ETAG = "0123456789abcdef0123456789abcdef"
BIG_KEY = "big/object"
BLOCK = bytes(range(256)) * 4096  # 1 MiB
BIG = 384 * len(BLOCK)
MiB = 1024 * 1024


def key_of(index: int) -> str:
    """The ``index``-th key: 1,000 bytes, sorted like the index."""
    head = f"{PREFIX}{index:08d}/"
    return head + "k" * (1000 - len(head))


def rss_bytes(pid: int) -> int:
    """VmRSS (current resident set) of a live process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def whole_listing_bytes() -> int:
    """What holding every listed object at once costs, at the least: one ObjectInfo each."""
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    tracemalloc.start()
    try:
        listing = [ObjectInfo(SRC_BUCKET, key_of(i), 1, ETAG, when) for i in range(KEYS)]
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(listing) == KEYS
    return size


def _contents(key: str, size: int) -> str:
    return (
        f"<Contents><Key>{escape(key)}</Key>"
        "<LastModified>2026-01-01T00:00:00.000Z</LastModified>"
        f"<ETag>&quot;{ETAG}&quot;</ETag><Size>{size}</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
    )


def _page_xml(prefix: str, start: int, max_keys: int) -> bytes:
    count = KEYS if prefix == PREFIX else 1
    end = min(count, start + max_keys)
    if prefix == PREFIX:
        contents = "".join(_contents(key_of(i), 1) for i in range(start, end))
    else:
        contents = _contents(BIG_KEY, BIG) if start == 0 else ""
    more = end < count
    token = f"<NextContinuationToken>{end}</NextContinuationToken>" if more else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>{SRC_BUCKET}</Name><Prefix>{prefix}</Prefix><KeyCount>{end - start}</KeyCount>"
        f"<MaxKeys>{max_keys}</MaxKeys><IsTruncated>{str(more).lower()}</IsTruncated>"
        f"{token}{contents}</ListBucketResult>"
    ).encode()


_NO_TAGS = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet></TagSet></Tagging>'
)


@dataclass
class SyntheticSource:
    """The synthetic S3 endpoint.

    Attributes:
        url: Its endpoint URL.
        pages_served: ListObjectsV2 pages answered so far.
    """

    url: str
    pages_served: int = 0


@pytest.fixture
async def synthetic_source() -> AsyncIterator[SyntheticSource]:
    """A synthetic S3 endpoint serving ``SRC_BUCKET``.

    It lists ``KEYS`` small objects under ``PREFIX`` and one of ``BIG`` bytes at ``BIG_KEY``,
    whose body it makes up as it sends it.
    """
    source = SyntheticSource(url="")

    async def list_objects(request: web.Request) -> web.Response:
        if request.match_info["bucket"] != SRC_BUCKET or request.query.get("list-type") != "2":
            return web.Response(status=501, text="only ListObjectsV2 of the synthetic bucket")
        start = int(request.query.get("continuation-token", "0"))
        max_keys = int(request.query.get("max-keys", str(PAGE)))
        source.pages_served += 1
        body = _page_xml(request.query.get("prefix", ""), start, max_keys)
        return web.Response(body=body, content_type="application/xml")

    async def get_object(request: web.Request) -> web.StreamResponse:
        if (request.match_info["bucket"], request.match_info["key"]) != (SRC_BUCKET, BIG_KEY):
            return web.Response(status=404)
        if "tagging" in request.query:  # a copy carries the source's tags: it has none
            return web.Response(body=_NO_TAGS, content_type="application/xml")
        response = web.StreamResponse(
            headers={"ETag": f'"{ETAG}"', "Last-Modified": "Thu, 01 Jan 2026 00:00:00 GMT"}
        )
        response.content_type = "application/octet-stream"
        response.content_length = BIG
        await response.prepare(request)
        if request.method == "GET":
            for _ in range(BIG // len(BLOCK)):
                await response.write(BLOCK)
        return response

    app = web.Application()
    app.router.add_get("/{bucket}", list_objects)
    app.router.add_get("/{bucket}/{key:.+}", get_object)  # and HEAD
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    source.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield source
    finally:
        await runner.cleanup()


async def test_migration_never_holds_the_whole_listing(
    start_worker: StartWorker,
    jobs: StorageJobsClient,
    bucket: str,
    synthetic_source: SyntheticSource,
) -> None:
    """24,000 listed objects (~26 MiB as ObjectInfo): the worker's peak RSS stops growing early.

    A worker holding one page (plus a batch or two in flight) reaches its working set within
    a few pages and stays there; one accumulating the listing keeps growing with every page.
    So the peak RSS is read when ``EARLY_PAGES`` of the 24 pages have been served and again at
    the end: what the whole listing would add in between is ``whole * (1 - 6 / 24)``.
    """
    whole = whole_listing_bytes()
    assert whole > 24 * MiB
    profiles = {
        "synthetic": {
            "endpoint_url": synthetic_source.url,
            "access_key_id": "synthetic",
            "secret_access_key": "synthetic",
        }
    }
    worker = start_worker(
        STORAGE_JOBS_SOURCE_PROFILES=json.dumps(profiles),
        STORAGE_JOBS_MAX_JOBS="2",
        # The default lease: parsing 1 MB pages on a busy CI machine can starve a 3 s one.
        STORAGE_JOBS_LEASE_SECONDS="30",
    )
    await asyncio.sleep(1)  # past the startup
    idle = rss_bytes(worker.pid)
    started = time.monotonic()
    handle = await jobs.enqueue(
        MigrateJob(
            src_bucket=SRC_BUCKET,
            src_prefix=PREFIX,
            dst_bucket=bucket,
            src_endpoint="synthetic",
            dry_run=True,
            skip_if_identical=False,  # no HEAD per key: the batches only record their keys
        )
    )
    early: int | None = None
    samples = [idle]
    while await handle.status() not in ("complete", "failed"):
        if early is None and synthetic_source.pages_served >= EARLY_PAGES:
            early = peak_rss_bytes(worker.pid)
        samples.append(rss_bytes(worker.pid))
        await asyncio.sleep(0.05)
    result = await handle.result(timeout=1)
    peak = peak_rss_bytes(worker.pid)
    assert early is not None
    late_growth = peak - early
    accumulated = whole * (1 - EARLY_PAGES / (KEYS // PAGE))
    print(
        f"migration of {KEYS} listed objects in {time.monotonic() - started:.1f} s: "
        f"idle RSS {idle / MiB:.1f} MiB; peak {early / MiB:.1f} MiB after {EARLY_PAGES} pages, "
        f"{peak / MiB:.1f} MiB at the end (late growth {late_growth / MiB:.1f} MiB); largest "
        f"RSS sample {max(samples) / MiB:.1f} MiB; the whole listing as ObjectInfo "
        f"{whole / MiB:.1f} MiB, of which the pages after the first {EARLY_PAGES} "
        f"{accumulated / MiB:.1f} MiB"
    )
    assert (result.listed, result.copied, result.failed) == (KEYS, KEYS, 0)
    assert synthetic_source.pages_served == KEYS // PAGE
    assert late_growth < accumulated / 2, f"peak RSS grew {late_growth / MiB:.1f} MiB late"


async def test_cross_endpoint_copy_streams_with_bounded_memory(
    start_worker: StartWorker,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    synthetic_source: SyntheticSource,
) -> None:
    """A 384 MiB object from another endpoint: the worker's peak RSS grows by < half of it.

    Measured: 35 MiB with 2 parts in flight and 51 MiB with 4 (the default), one reused buffer
    per part (91 MiB with 2 before the buffers were reused), where an implementation buffering
    the object would hold all of it.
    """
    profiles = {
        "synthetic": {
            "endpoint_url": synthetic_source.url,
            "access_key_id": "synthetic",
            "secret_access_key": "synthetic",
        }
    }
    worker = start_worker(
        STORAGE_JOBS_SOURCE_PROFILES=json.dumps(profiles), STORAGE_JOBS_LEASE_SECONDS="30"
    )
    await asyncio.sleep(1)  # past the startup
    idle = rss_bytes(worker.pid)
    started = time.monotonic()
    handle = await jobs.enqueue(
        MigrateJob(
            src_bucket=SRC_BUCKET, src_prefix="big/", dst_bucket=bucket, src_endpoint="synthetic"
        )
    )
    result = await handle.result(timeout=120)
    growth = peak_rss_bytes(worker.pid) - idle
    print(
        f"cross-endpoint copy of {BIG / MiB:.0f} MiB in {time.monotonic() - started:.1f} s: "
        f"idle RSS {idle / MiB:.1f} MiB, peak growth {growth / MiB:.1f} MiB"
    )
    assert (result.listed, result.copied, result.failed, result.bytes) == (1, 1, 0, BIG)
    copied = await admin_storage.head_object(bucket=bucket, key="object")
    assert copied["size"] == BIG
    assert copied["metadata"].get("sj-src-etag") == ETAG
    assert growth < BIG / 2, f"peak RSS grew {growth / MiB:.1f} MiB for a {BIG / MiB:.0f} MiB copy"
