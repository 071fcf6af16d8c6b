"""Parts in flight (and part size) for the large upload, each against boto3 in the same round.

Run: ``uv run python -m bench.large_upload_sweep --rounds 8 boto c2 c4`` (``c<N>``: N parts in
flight, ``c<N>k<M>``: and M MiB parts; ``boto``: boto3 ``upload_file``). It runs the
``large_upload`` scenario's two sides (a fresh worker per upload, as the bench does) on its own
SeaweedFS, rotating the variants' order every round, deleting each object and vacuuming after
it. Per variant it prints the median MiB/s, the worker's peak RSS and its growth over the idle
worker, the uploading process's CPU seconds (the worker's from ready to result; boto3's for its
``upload_file``) and SeaweedFS's, and the ratio to boto3 taken per round (the shared machine
drifts between rounds, less within one).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from .scenarios._base import Context
from .scenarios.large_upload import LargeUpload
from .sizes import FULL
from .stack import Stack
from .workers import cpu_seconds

MiB = 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """One upload's figures."""

    mib_s: float
    peak_rss_mib: float
    growth_mib: float
    client_cpu_s: float
    server_cpu_s: float
    load: float


def _worker_env(variant: str) -> dict[str, str]:
    found = re.fullmatch(r"c(\d+)(?:k(\d+))?", variant)
    if found is None:
        raise SystemExit(f"not a variant: {variant!r} (boto, c<N> or c<N>k<MiB>)")
    return {
        "STORAGE_JOBS_S3_MULTIPART_CONCURRENCY": found[1],
        "STORAGE_JOBS_S3_MULTIPART_CHUNKSIZE": str(int(found[2] or 8) * MiB),
    }


async def sweep(size: int, rounds: int, variants: list[str]) -> dict[str, list[Upload]]:
    """Every variant once a round, the order rotated each round."""
    workdir = Path(tempfile.mkdtemp(prefix="storage-jobs-sweep-"))
    stack = Stack(workdir)
    stack.start()
    ctx = Context(stack=stack, sizes=replace(FULL, large_file_bytes=size), workdir=workdir)
    scenario = LargeUpload()
    results: dict[str, list[Upload]] = {v: [] for v in variants}
    try:
        await scenario.setup(ctx)
        bucket = stack.bucket("large")
        server = stack.seaweedfs.pid
        assert server is not None
        for run in range(rounds):
            shift = run % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                key = f"r{run}-{variant}"
                load, before = os.getloadavg()[0], cpu_seconds(server)
                if variant == "boto":
                    seconds, rss = await scenario.upload_with_boto3(ctx, bucket, key)
                    idle, client_cpu = 0.0, scenario.boto3_cpu_s
                else:
                    env = _worker_env(variant)
                    seconds, rss = await scenario.upload_with_worker(ctx, bucket, key, **env)
                    idle, client_cpu = scenario.idle_rss, scenario.job_cpu_s
                upload = Upload(
                    size / MiB / seconds,
                    rss / MiB,
                    (rss - idle) / MiB,
                    client_cpu,
                    cpu_seconds(server) - before,
                    load,
                )
                results[variant].append(upload)
                print(
                    f"round {run} {variant:7s} {upload.mib_s:6.1f} MiB/s  peak RSS "
                    f"{upload.peak_rss_mib:6.1f} MiB (+{upload.growth_mib:5.1f})  CPU "
                    f"{upload.client_cpu_s:5.2f} s, SeaweedFS {upload.server_cpu_s:5.2f} s  "
                    f"load {load:.2f}",
                    flush=True,
                )
                async with stack.storage(pool=4) as storage:
                    await storage.delete_file(bucket=bucket, key=key)
                await asyncio.to_thread(stack.vacuum)
    finally:
        await scenario.teardown(ctx)
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def report(results: dict[str, list[Upload]]) -> None:
    """Medians per variant, and the per-round ratio to boto3 when boto3 ran."""
    base = results.get("boto")
    print("variant   MiB/s  peak RSS  growth  CPU  SeaweedFS CPU  ratio to boto3 (median, min-max)")
    for variant, rows in results.items():
        line = (
            f"{variant:7s} {statistics.median(r.mib_s for r in rows):7.1f} "
            f"{statistics.median(r.peak_rss_mib for r in rows):8.1f} "
            f"{statistics.median(r.growth_mib for r in rows):7.1f} "
            f"{statistics.median(r.client_cpu_s for r in rows):4.2f} s "
            f"{statistics.median(r.server_cpu_s for r in rows):12.2f} s"
        )
        if base is not None and variant != "boto":
            ratios = [ours.mib_s / theirs.mib_s for ours, theirs in zip(rows, base, strict=True)]
            line += f"  {statistics.median(ratios):.3f} ({min(ratios):.2f}-{max(ratios):.2f})"
        print(line)


def main() -> None:
    """Parses the arguments, runs the sweep, prints the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="+", help="boto, c<N> or c<N>k<MiB>")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    for variant in args.variants:
        if variant != "boto":
            _worker_env(variant)
    report(asyncio.run(sweep(args.size_mib * MiB, args.rounds, args.variants)))


if __name__ == "__main__":
    main()
