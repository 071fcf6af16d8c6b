"""Soak run: a steady mixed load for a long time, sampling worker RSS and Redis memory.

``python -m bench.soak --minutes 30 --out bench/soak`` starts its own ``redis-server`` and
SeaweedFS, a fault proxy at a low fault rate in front of SeaweedFS and two workers, then
enqueues uploads, copies and deletes every second and a migration (and a prefix delete of what
it copied) every few minutes. Every ``sample_every`` seconds it samples each worker's RSS and
Redis ``used_memory``; at the end it waits for every job, checks each succeeded, and writes
``soak.json`` (samples and summary) and ``soak.png`` (both series against time).

The summary's slopes are least-squares fits over the samples after the warm-up (results expire
after ``result_ttl``, so Redis fills for that long before it levels off). ``tests/bench``
runs a two-minute version and holds the slopes under bounds. With ``--memory-stats`` the
workers run as ``bench.soak_worker`` and the report adds each worker's Python heap and malloc
figures (``worker_memory``, slopes in ``summary``), to tell a leak from allocator growth.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import FaultProxy, FaultRules, RedisServer, SeaweedFS
from storage_jobs.devstack.workers import WorkerProcess
from storage_jobs.jobs import CopyJob, DeleteJob, DeletePrefixJob, JobModel, MigrateJob, UploadJob
from storage_jobs.settings import Settings
from storage_jobs.worker import decode

__all__ = [
    "Sample",
    "SoakSize",
    "fit_slope",
    "key_pattern",
    "memory_summary",
    "run_soak",
    "summarise",
    "write_plot",
]

SRC = "soak-src"
DST = "soak-dst"
KiB = 1024
MiB = 1024 * 1024


@dataclass(frozen=True)
class SoakSize:
    """How long and how hard a soak run is.

    Attributes:
        duration_s: Seconds of load.
        warmup_s: Seconds at the start left out of the slopes.
        sample_every: Seconds between samples.
        uploads_per_s: 1 KiB inline UploadJobs a second.
        copies_per_s: CopyJobs a second.
        deletes_per_s: DeleteJobs (of 5 copied keys each) a second.
        migrate_every_s: Seconds between MigrateJobs.
        migrate_objects: Objects each migration copies.
        result_ttl: The workers' and producer's result TTL (seconds).
        events_kept: The completion events stream's cap (``STORAGE_JOBS_EVENTS_MAXLEN``): set
            so the stream is full before the warm-up ends, as results have expired by then, so
            what is measured after it is whether the cap holds, not the stream filling.
        fault_rate: Rate of each of SlowDown, InternalError and connection reset at the proxy.
    """

    duration_s: float = 1800.0
    warmup_s: float = 300.0
    sample_every: float = 10.0
    uploads_per_s: int = 4
    copies_per_s: int = 2
    deletes_per_s: int = 1
    migrate_every_s: float = 180.0
    migrate_objects: int = 200
    result_ttl: float = 120.0
    events_kept: int = 1000
    fault_rate: float = 0.005


CI_SIZE = SoakSize(
    duration_s=120.0,
    warmup_s=45.0,
    sample_every=5.0,
    uploads_per_s=4,
    copies_per_s=2,
    deletes_per_s=1,
    migrate_every_s=30.0,
    migrate_objects=50,
    result_ttl=20.0,
    events_kept=200,
)
"""The two-minute version CI runs (``tests/bench/test_soak.py``)."""


@dataclass(frozen=True)
class Sample:
    """One sample: seconds since the load began, each worker's RSS, Redis memory."""

    t: float
    worker_rss: tuple[int, ...]
    redis_used_memory: int
    redis_keys: int
    done: int
    pending: int


@dataclass
class Tally:
    """Jobs submitted and finished during the run."""

    pending: dict[str, str] = field(default_factory=dict)
    prefixes: dict[str, str] = field(default_factory=dict)
    done: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)


def rss_bytes(pid: int) -> int:
    """VmRSS of a live process, from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def fit_slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of ``(x, y)`` points (0.0 for fewer than two)."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    return sxy / sxx if sxx else 0.0


def summarise(samples: Sequence[Sample], warmup_s: float) -> dict[str, Any]:
    """Start (first sample after warm-up), end, peak and slope per minute of each series."""
    steady = [s for s in samples if s.t >= warmup_s] or list(samples)
    series: dict[str, list[tuple[float, float]]] = {
        "redis_used_memory": [(s.t / 60, s.redis_used_memory) for s in steady]
    }
    for i in range(len(steady[0].worker_rss)):
        series[f"worker{i + 1}_rss"] = [(s.t / 60, s.worker_rss[i]) for s in steady]
    out: dict[str, Any] = {}
    for name, points in series.items():
        out[name] = {
            "start_bytes": int(points[0][1]),
            "end_bytes": int(points[-1][1]),
            "peak_bytes": int(max(y for _, y in points)),
            "slope_bytes_per_min": round(fit_slope(points), 1),
        }
    return out


MEMORY_FIELDS = ("py_blocks", "gc_objects", "malloc_in_use", "malloc_free", "rss_anon")
"""Figures ``bench.soak_worker`` writes besides RSS, summarised like the RSS series."""


def memory_summary(records: Sequence[dict[str, Any]], warmup_s: float) -> dict[str, Any]:
    """Start, end and slope per minute of each ``bench.soak_worker`` figure after warm-up."""
    steady = [r for r in records if r["t"] >= warmup_s] or list(records)
    out: dict[str, Any] = {}
    for name in MEMORY_FIELDS:
        points = [(r["t"] / 60, r[name]) for r in steady if name in r]
        if points:
            out[name] = {
                "start": int(points[0][1]),
                "end": int(points[-1][1]),
                "slope_per_min": round(fit_slope(points), 1),
            }
    return out


def _read_memory(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def seed(seaweedfs: SeaweedFS, size: SoakSize) -> None:
    """Creates the buckets, 100 copy sources and the migration's source objects."""
    client = seaweedfs.client()
    for bucket in (SRC, DST):
        client.create_bucket(Bucket=bucket)
    body = b"s" * KiB

    def put_all() -> None:
        for i in range(100):
            client.put_object(Bucket=SRC, Key=f"copy-src/{i:03d}", Body=body)
        for i in range(size.migrate_objects):
            client.put_object(Bucket=SRC, Key=f"mig-src/{i:05d}", Body=body)

    await asyncio.to_thread(put_all)


async def collect(redis: Redis, tally: Tally) -> list[tuple[str, str]]:
    """Moves every pending job with a result to done; returns the finished (id, kind) pairs."""
    ids = list(tally.pending)
    finished: list[tuple[str, str]] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        raws = await redis.mget([f"arq:result:{i}" for i in chunk])
        for job_id, raw in zip(chunk, raws, strict=True):
            if raw is None:
                continue
            kind = tally.pending.pop(job_id)
            result = decode(raw)
            if not result.get("s"):
                tally.failed.append(f"{kind} {job_id}: {str(result.get('r'))[:200]}")
            tally.done += 1
            tally.by_kind[kind] = tally.by_kind.get(kind, 0) + 1
            finished.append((job_id, kind))
    return finished


async def load(
    jobs: StorageJobsClient, redis: Redis, size: SoakSize, tally: Tally, stop_at: float
) -> None:
    """Enqueues the steady load once a second until ``stop_at`` (monotonic)."""
    tick = 0
    next_migration = time.monotonic() + 5
    migrations = 0
    data = b"u" * KiB
    while time.monotonic() < stop_at:
        began = time.monotonic()
        batch: list[tuple[str, JobModel]] = []
        for i in range(size.uploads_per_s):
            n = tick * size.uploads_per_s + i
            batch.append(("upload", UploadJob(bucket=DST, key=f"up/{n % 2000:04d}", data=data)))
        for i in range(size.copies_per_s):
            n = tick * size.copies_per_s + i
            copy = CopyJob(src_bucket=SRC, src_key=f"copy-src/{n % 100:03d}", dst_bucket=DST,
                           dst_key=f"copy/{n % 500:03d}")  # fmt: skip
            batch.append(("copy", copy))
        for i in range(size.deletes_per_s):
            n = (tick * size.deletes_per_s + i) * 5
            keys = [f"copy/{(n + k) % 500:03d}" for k in range(5)]
            batch.append(("delete", DeleteJob(bucket=DST, keys=keys)))
        if began >= next_migration:
            migrations += 1
            next_migration += size.migrate_every_s
            migrate = MigrateJob(src_bucket=SRC, src_prefix="mig-src/", dst_bucket=DST,
                                 dst_prefix=f"mig/{migrations}/", batch_size=100)  # fmt: skip
            batch.append(("migrate", migrate))
        handles = await jobs.enqueue_many([job for _, job in batch])
        for handle, (kind, job) in zip(handles, batch, strict=True):
            tally.pending[handle.job_id] = kind
            if isinstance(job, MigrateJob):
                tally.prefixes[handle.job_id] = job.dst_prefix
        # A finished migration's copies are removed by a prefix delete, so storage stays bounded.
        for job_id, kind in await collect(redis, tally):
            if kind == "migrate":
                prefix_delete = DeletePrefixJob(bucket=DST, prefix=tally.prefixes.pop(job_id))
                (handle,) = await jobs.enqueue_many([prefix_delete])
                tally.pending[handle.job_id] = "delete_prefix"
        tick += 1
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - began)))


async def sample_loop(
    redis: Redis,
    workers: Sequence[WorkerProcess],
    size: SoakSize,
    tally: Tally,
    t0: float,
    samples: list[Sample],
    stop: asyncio.Event,
) -> None:
    """Samples every ``size.sample_every`` seconds until ``stop`` is set."""
    while not stop.is_set():
        info = await redis.info("memory")
        samples.append(
            Sample(
                t=round(time.monotonic() - t0, 1),
                worker_rss=tuple(rss_bytes(w.pid) for w in workers),
                redis_used_memory=int(info["used_memory"]),
                redis_keys=int(await redis.dbsize()),
                done=tally.done,
                pending=len(tally.pending),
            )
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), size.sample_every)


_ID = re.compile(r"[0-9a-f]{32}|(?<=:)[0-9a-f]{12,}(?=[:-]|$)|(?<=[:/-])\d+(?=[:/-]|$)")


def key_pattern(key: str) -> str:
    """A key with its job ids and numbers replaced by ``<id>``/``<n>``, to count by shape."""
    return _ID.sub(lambda m: "<n>" if m.group().isdigit() else "<id>", key)


async def key_patterns(redis: Redis) -> dict[str, int]:
    """How many keys of each shape Redis holds."""
    counts: dict[str, int] = {}
    async for raw in redis.scan_iter(count=1000):
        pattern = key_pattern(raw.decode())
        counts[pattern] = counts.get(pattern, 0) + 1
    return dict(sorted(counts.items()))


async def run_soak(size: SoakSize, workdir: Path, *, memory_stats: bool = False) -> dict[str, Any]:
    """Runs the soak in ``workdir`` and returns its report (samples, summary, counts).

    Args:
        size: How long and how hard.
        workdir: Where the servers, logs and memory figures go.
        memory_stats: Run the workers as ``bench.soak_worker`` and report their heap figures.
    """
    redis_server = RedisServer(workdir / "redis")
    seaweedfs = SeaweedFS(workdir / "seaweedfs")
    redis_server.start()
    seaweedfs.start()
    rules = FaultRules(
        seed=15,
        slowdown_rate=size.fault_rate,
        internal_error_rate=size.fault_rate,
        reset_rate=size.fault_rate,
    )
    proxy = FaultProxy(seaweedfs.endpoint_url, rules=rules)
    proxy.start_in_thread()
    queue = "soak"
    env = {
        "STORAGE_JOBS_REDIS_URL": redis_server.url,
        "STORAGE_JOBS_QUEUE_NAME": queue,
        "STORAGE_JOBS_S3_ENDPOINT_URL": proxy.url,
        "STORAGE_JOBS_S3_ACCESS_KEY_ID": seaweedfs.access_key,
        "STORAGE_JOBS_S3_SECRET_ACCESS_KEY": seaweedfs.secret_key,
        "STORAGE_JOBS_RETRY_BASE_DELAY": "0.1",
        "STORAGE_JOBS_RETRY_MAX_DELAY": "1",
        "STORAGE_JOBS_LEASE_SECONDS": "15",
        "STORAGE_JOBS_RESULT_TTL": str(size.result_ttl),
        "STORAGE_JOBS_EVENTS_MAXLEN": str(size.events_kept),
    }
    stats_paths = [workdir / f"worker{i}.memory.jsonl" for i in (1, 2)]
    workers = [
        WorkerProcess(
            {**env, "SOAK_STATS_PATH": str(stats_paths[i - 1])} if memory_stats else env,
            workdir / f"worker{i}.log",
            name=f"worker{i}",
            argv=["-m", "bench.soak_worker"] if memory_stats else None,
            cwd=Path(__file__).resolve().parent.parent if memory_stats else None,
        )
        for i in (1, 2)
    ]
    settings = Settings(redis_url=redis_server.url, queue_name=queue, result_ttl=size.result_ttl)
    samples: list[Sample] = []
    tally = Tally()
    try:
        await seed(seaweedfs, size)
        for worker in workers:
            await asyncio.to_thread(worker.start)
        redis = Redis.from_url(redis_server.url)
        async with StorageJobsClient(settings=settings) as jobs:
            stop = asyncio.Event()
            t0 = time.monotonic()
            sampler = asyncio.create_task(
                sample_loop(redis, workers, size, tally, t0, samples, stop)
            )
            await load(jobs, redis, size, tally, t0 + size.duration_s)
            stop.set()
            await sampler
            drain_deadline = time.monotonic() + 300
            while tally.pending and time.monotonic() < drain_deadline:
                await collect(redis, tally)
                await asyncio.sleep(1)
        keys_left = await key_patterns(redis)
        await redis.aclose()
        crashed = [w.name for w in workers if not w.running()]
    finally:
        for worker in workers:
            worker.stop()
        proxy.stop_thread()
        seaweedfs.stop()
        redis_server.stop()
    summary = summarise(samples, size.warmup_s)
    memory = {f"worker{i + 1}": _read_memory(path) for i, path in enumerate(stats_paths)}
    if memory_stats:
        for name, records in memory.items():
            summary[f"{name}_memory"] = memory_summary(records, size.warmup_s)
    return {
        "size": asdict(size),
        "summary": summary,
        "jobs_done": tally.done,
        "jobs_by_kind": tally.by_kind,
        "jobs_unfinished": len(tally.pending),
        "jobs_failed": tally.failed[:20],
        "workers_crashed": crashed,
        "keys_left": keys_left,
        "faults": dict(proxy.stats),
        "samples": [asdict(s) for s in samples],
        **({"worker_memory": memory} if memory_stats else {}),
    }


# A PNG line plot with the standard library (matplotlib is not a dependency): two panels,
# worker RSS (MiB) above and Redis used_memory (MiB) below, against minutes; a grey line marks
# the end of the warm-up. No text: docs/reliability.md says what the axes are.
_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44))
_WIDTH, _PANEL, _PAD = 800, 240, 20


def write_plot(report: dict[str, Any], path: Path) -> None:
    """Writes the samples of ``report`` as a PNG line plot."""
    samples = report["samples"]
    height = 2 * _PANEL + 3 * _PAD
    pixels = bytearray(b"\xff" * (_WIDTH * height * 3))
    if len(samples) < 2:
        path.write_bytes(_png(pixels, _WIDTH, height))
        return
    t_max = max(s["t"] for s in samples) or 1.0
    panels = [
        [[s["worker_rss"][i] for s in samples] for i in range(len(samples[0]["worker_rss"]))],
        [[s["redis_used_memory"] for s in samples]],
    ]
    for p, lines in enumerate(panels):
        top = _PAD + p * (_PANEL + _PAD)
        y_max = max(max(line) for line in lines) * 1.1 or 1.0

        def xy(t: float, v: float, top: int = top, y_max: float = y_max) -> tuple[int, int]:
            x = _PAD + int((_WIDTH - 2 * _PAD - 1) * t / t_max)
            return x, top + _PANEL - 1 - int((_PANEL - 1) * v / y_max)

        for x in range(_PAD, _WIDTH - _PAD):  # axes: the zero line and the left edge
            _dot(pixels, x, top + _PANEL - 1, (0, 0, 0))
        for y in range(top, top + _PANEL):
            _dot(pixels, _PAD, y, (0, 0, 0))
            warm_x, _ = xy(report["size"]["warmup_s"], 0)
            _dot(pixels, warm_x, y, (170, 170, 170))
        for colour, line in zip(_COLOURS, lines, strict=False):
            points = [xy(s["t"], v) for s, v in zip(samples, line, strict=True)]
            for a, b in itertools.pairwise(points):
                _segment(pixels, a, b, colour)
    path.write_bytes(_png(pixels, _WIDTH, height))


def _dot(pixels: bytearray, x: int, y: int, colour: tuple[int, int, int]) -> None:
    for dx in (0, 1):
        for dy in (0, 1):
            at = ((y + dy) * _WIDTH + x + dx) * 3
            if 0 <= at < len(pixels) - 2:
                pixels[at : at + 3] = bytes(colour)


def _segment(
    pixels: bytearray, a: tuple[int, int], b: tuple[int, int], colour: tuple[int, int, int]
) -> None:
    steps = max(abs(b[0] - a[0]), abs(b[1] - a[1]), 1)
    for k in range(steps + 1):
        x = a[0] + (b[0] - a[0]) * k // steps
        y = a[1] + (b[1] - a[1]) * k // steps
        _dot(pixels, x, y, colour)


def _png(pixels: bytearray, width: int, height: int) -> bytes:
    row = width * 3
    raw = b"".join(b"\x00" + bytes(pixels[y * row : (y + 1) * row]) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main(argv: list[str] | None = None) -> int:
    """Runs a soak and writes soak.json and soak.png; exit code 1 if a job failed or was lost."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup-minutes", type=float, default=5.0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--memory-stats",
        action="store_true",
        help="run the workers as bench.soak_worker and report their heap and malloc figures",
    )
    args = parser.parse_args(argv)
    size = SoakSize(duration_s=args.minutes * 60, warmup_s=args.warmup_minutes * 60)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        report = asyncio.run(run_soak(size, Path(tmp), memory_stats=args.memory_stats))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(report, indent=2) + "\n")
    write_plot(report, args.out / "soak.png")
    brief = {k: v for k, v in report.items() if k not in ("samples", "worker_memory")}
    print(json.dumps(brief, indent=2))
    return (
        1 if report["jobs_failed"] or report["jobs_unfinished"] or report["workers_crashed"] else 0
    )


if __name__ == "__main__":
    sys.exit(main())
