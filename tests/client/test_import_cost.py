"""What a producer pays to import the client: no arq, no S3 stack, no metrics."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["aioboto3", "aiobotocore", "arq", "boto3", "botocore", "prometheus_client"]


def test_importing_the_client_loads_no_worker_stack() -> None:
    """``import storage_jobs.client`` (and the job models) loads none of the worker's packages."""
    code = (
        "import json, sys\n"
        "import storage_jobs.client, storage_jobs.jobs, storage_jobs.errors\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_the_worker_does_load_them() -> None:
    """The same probe sees arq and aiobotocore once the worker is imported (it can fail)."""
    code = (
        "import json, sys\n"
        "import storage_jobs.worker, storage_jobs.storage\n"
        "storage_jobs.storage.StorageClient\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert {"arq", "aiobotocore"} <= set(json.loads(out.stdout))
