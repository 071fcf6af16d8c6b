"""Baseline for large uploads: boto3 ``upload_file`` (s3transfer, default TransferConfig).

Run as ``python -m bench.boto3_upload ENDPOINT BUCKET KEY PATH`` with ``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY`` set; prints ``{"elapsed_s": ..., "peak_rss": ..., "cpu_s": ...}`` (peak
RSS in bytes; ``cpu_s``: the process's user + system CPU during ``upload_file``).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

import boto3  # type: ignore[import-untyped, unused-ignore]
from botocore.config import Config


def main(argv: list[str]) -> None:
    """Uploads one file and reports how long it took and the peak RSS of this process."""
    endpoint, bucket, key, path = argv
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    client.head_bucket(Bucket=bucket)
    started, cpu = time.perf_counter(), os.times()
    client.upload_file(path, bucket, key)
    elapsed, cpu_after = time.perf_counter() - started, os.times()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    cpu_s = (cpu_after.user - cpu.user) + (cpu_after.system - cpu.system)
    print(json.dumps({"elapsed_s": elapsed, "peak_rss": peak, "cpu_s": cpu_s}))


if __name__ == "__main__":
    main(sys.argv[1:])
