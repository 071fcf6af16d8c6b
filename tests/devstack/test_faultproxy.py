"""Tests for the fault-injecting S3 proxy, run against the session SeaweedFS."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from typing import Any

import aioboto3
import pytest
from aiobotocore.config import AioConfig
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ResponseStreamingError

from storage_jobs.devstack import FaultProxy, FaultRules, S3Identity, SeaweedFS, free_port

pytestmark = pytest.mark.integration

NO_RETRY = Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1})
BUCKET = "proxy-tests"


@pytest.fixture
def via_proxy(seaweedfs: SeaweedFS, fault_proxy: FaultProxy) -> Any:
    """Admin boto3 client that talks to SeaweedFS through the proxy, without retries."""
    client = seaweedfs.client(config=NO_RETRY, endpoint_url=fault_proxy.url)
    with contextlib.suppress(ClientError):  # already created by an earlier test
        client.create_bucket(Bucket=BUCKET)
    return client


def _keys(client: Any, prefix: str) -> list[str]:
    listing = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def _put(client: Any, keys: list[str]) -> None:
    for key in keys:
        client.put_object(Bucket=BUCKET, Key=key, Body=b"1")


def _outcomes(client: Any, n: int) -> list[str]:
    out = []
    for _ in range(n):
        try:
            client.list_objects_v2(Bucket=BUCKET, MaxKeys=1)
            out.append("ok")
        except ClientError as exc:
            out.append(exc.response["Error"]["Code"])
    return out


def test_forwards_bytes_exactly(via_proxy: Any, fault_proxy: FaultProxy) -> None:
    """Signed put/get/head of random bytes through the proxy round-trip unchanged."""
    for size in (0, 1, 70_000, 5 * 1024 * 1024 + 7):
        data = os.urandom(size)
        key = f"exact/{size}"
        via_proxy.put_object(Bucket=BUCKET, Key=key, Body=data, Metadata={"size": str(size)})
        got = via_proxy.get_object(Bucket=BUCKET, Key=key)
        assert got["Body"].read() == data
        assert got["Metadata"] == {"size": str(size)}
        assert via_proxy.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == size
    assert fault_proxy.stats["requests"] >= 12


def test_slowdown_rate_one_gives_503(via_proxy: Any, fault_proxy: FaultProxy) -> None:
    """slowdown_rate=1.0 answers 503 with S3 error code SlowDown."""
    fault_proxy.rules.slowdown_rate = 1.0
    with pytest.raises(ClientError) as exc:
        via_proxy.get_object(Bucket=BUCKET, Key="whatever")
    assert exc.value.response["Error"]["Code"] == "SlowDown"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert fault_proxy.stats["slowdown"] == 1


def test_internal_error_rate_one_gives_500(via_proxy: Any, fault_proxy: FaultProxy) -> None:
    """internal_error_rate=1.0 answers 500 InternalError without reaching upstream."""
    fault_proxy.rules.internal_error_rate = 1.0
    with pytest.raises(ClientError) as exc:
        via_proxy.put_object(Bucket=BUCKET, Key="ie/never", Body=b"x")
    assert exc.value.response["Error"]["Code"] == "InternalError"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    fault_proxy.rules.internal_error_rate = 0.0
    assert _keys(via_proxy, "ie/") == []


def test_method_and_path_filters(via_proxy: Any, fault_proxy: FaultProxy) -> None:
    """Faults only hit requests matching the methods and path_prefix filters."""
    fault_proxy.rules = FaultRules(
        slowdown_rate=1.0, methods=frozenset({"PUT"}), path_prefix=f"/{BUCKET}/slow/"
    )
    via_proxy.put_object(Bucket=BUCKET, Key="fast/a", Body=b"x")
    with pytest.raises(ClientError, match="SlowDown"):
        via_proxy.put_object(Bucket=BUCKET, Key="slow/a", Body=b"x")
    assert _keys(via_proxy, "slow/") == []
    assert fault_proxy.stats["slowdown"] == 1


def test_delete_errors_keep_failed_objects(via_proxy: Any, fault_proxy: FaultProxy) -> None:
    """Keys in delete_errors come back as errors with that code and still exist upstream."""
    keys = [f"de/{i}" for i in range(5)]
    _put(via_proxy, keys)
    fault_proxy.rules = FaultRules(delete_errors={"de/1": "AccessDenied", "de/3": "SlowDown"})
    result = via_proxy.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["de/0", "de/2", "de/4"]
    assert {e["Key"]: e["Code"] for e in result["Errors"]} == {
        "de/1": "AccessDenied",
        "de/3": "SlowDown",
    }
    assert _keys(via_proxy, "de/") == ["de/1", "de/3"]
    assert fault_proxy.delete_batches == [keys]
    assert fault_proxy.stats["delete_key_error"] == 2
    assert fault_proxy.stats["delete_requests"] == 1


def test_delete_error_times_fail_once(via_proxy: Any, fault_proxy: FaultProxy) -> None:
    """delete_error_times=1 makes a key fail on the first DeleteObjects and succeed after."""
    _put(via_proxy, ["dt/a", "dt/b"])
    fault_proxy.rules = FaultRules(
        delete_errors={"dt/a": "InternalError"}, delete_error_times={"dt/a": 1}
    )
    request = {"Objects": [{"Key": "dt/a"}, {"Key": "dt/b"}]}
    first = via_proxy.delete_objects(Bucket=BUCKET, Delete=request)
    assert [e["Key"] for e in first["Errors"]] == ["dt/a"]
    assert _keys(via_proxy, "dt/") == ["dt/a"]
    second = via_proxy.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "dt/a"}]})
    assert "Errors" not in second
    assert [d["Key"] for d in second["Deleted"]] == ["dt/a"]
    assert _keys(via_proxy, "dt/") == []
    assert [len(b) for b in fault_proxy.delete_batches] == [2, 1]


def test_delete_all_keys_failed_is_not_forwarded(via_proxy: Any, fault_proxy: FaultProxy) -> None:
    """When every key is failed the proxy answers itself and nothing is deleted."""
    _put(via_proxy, ["da/a"])
    fault_proxy.rules = FaultRules(delete_error_rate=1.0, delete_error_codes=("SlowDown",))
    result = via_proxy.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "da/a"}]})
    assert result["Errors"] == [
        {"Key": "da/a", "Code": "SlowDown", "Message": "Injected by FaultProxy"}
    ]
    assert "Deleted" not in result
    assert _keys(via_proxy, "da/") == ["da/a"]


def test_delete_errors_skipped_for_foreign_credentials(
    seaweedfs: SeaweedFS,
    fault_proxy: FaultProxy,
    scoped_identity: S3Identity,
    scoped_bucket: str,
) -> None:
    """Requests signed with keys the proxy lacks are forwarded untouched, not re-signed."""
    seaweedfs.client().put_object(Bucket=scoped_bucket, Key="allowed/fc", Body=b"1")
    fault_proxy.rules = FaultRules(delete_errors={"allowed/fc": "InternalError"})
    scoped = seaweedfs.client(scoped_identity, NO_RETRY, endpoint_url=fault_proxy.url)
    result = scoped.delete_objects(
        Bucket=scoped_bucket, Delete={"Objects": [{"Key": "allowed/fc"}]}
    )
    assert [d["Key"] for d in result["Deleted"]] == ["allowed/fc"]
    assert fault_proxy.stats["delete_resign_skipped"] == 1


def test_seeded_rates_are_repeatable(via_proxy: Any, fault_proxy: FaultProxy) -> None:
    """The same seed gives the same fault sequence; another seed gives a different one."""
    fault_proxy.rules = FaultRules(seed=7, slowdown_rate=0.3, internal_error_rate=0.3)
    first = _outcomes(via_proxy, 30)
    fault_proxy.rules = FaultRules(seed=7, slowdown_rate=0.3, internal_error_rate=0.3)
    second = _outcomes(via_proxy, 30)
    fault_proxy.rules = FaultRules(seed=8, slowdown_rate=0.3, internal_error_rate=0.3)
    third = _outcomes(via_proxy, 30)
    assert first == second
    assert first != third
    assert {"ok", "SlowDown", "InternalError"} <= set(first)


def test_reset_breaks_the_connection(via_proxy: Any, fault_proxy: FaultProxy) -> None:
    """reset_rate=1.0 cuts bodies mid-stream and drops body-less answers entirely."""
    via_proxy.put_object(Bucket=BUCKET, Key="reset/a", Body=os.urandom(50_000))
    fault_proxy.rules = FaultRules(reset_rate=1.0)
    with pytest.raises(ResponseStreamingError):
        via_proxy.get_object(Bucket=BUCKET, Key="reset/a")["Body"].read()
    with pytest.raises(ConnectionClosedError):
        via_proxy.put_object(Bucket=BUCKET, Key="reset/b", Body=b"x")
    assert fault_proxy.stats["reset"] == 2


def test_latency_is_added(via_proxy: Any, fault_proxy: FaultProxy) -> None:
    """latency_s delays each request by at least that long."""
    fault_proxy.rules = FaultRules(latency_s=0.25)
    start = time.monotonic()
    via_proxy.list_objects_v2(Bucket=BUCKET, MaxKeys=1)
    assert time.monotonic() - start >= 0.25


async def test_async_start_with_aioboto3(seaweedfs: SeaweedFS) -> None:
    """The proxy also runs on the caller's loop and forwards aiobotocore-signed requests."""
    proxy = FaultProxy(seaweedfs.endpoint_url, rules=FaultRules(slowdown_rate=1.0))
    await proxy.start()
    try:
        async with aioboto3.Session().client(
            "s3",
            endpoint_url=proxy.url,
            aws_access_key_id=seaweedfs.access_key,
            aws_secret_access_key=seaweedfs.secret_key,
            region_name="us-east-1",
            config=AioConfig(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
        ) as s3:
            with pytest.raises(ClientError, match="SlowDown"):
                await s3.list_buckets()
            proxy.rules.slowdown_rate = 0.0
            names = [b["Name"] for b in (await s3.list_buckets())["Buckets"]]
        assert BUCKET in names or "devstack-ready" in names
    finally:
        await proxy.stop()


def test_cli_serves_until_terminated(seaweedfs: SeaweedFS) -> None:
    """`python -m storage_jobs.devstack.faultproxy` proxies with the given rules."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "storage_jobs.devstack.faultproxy",
            f"--upstream={seaweedfs.endpoint_url}",
            f"--port={port}",
            "--slowdown-rate=1.0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert f"127.0.0.1:{port}" in proc.stdout.readline()
        client = seaweedfs.client(config=NO_RETRY, endpoint_url=f"http://127.0.0.1:{port}")
        with pytest.raises(ClientError, match="SlowDown"):
            client.list_buckets()
    finally:
        proc.terminate()
        returncode = proc.wait(timeout=10)
    assert returncode == 0  # SIGTERM is handled as a clean shutdown
