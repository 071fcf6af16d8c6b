"""Tests for the embedded SeaweedFS launcher and its S3 permission behaviour."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from storage_jobs.devstack import S3Identity, SeaweedFS, free_port
from storage_jobs.devstack.ports import free_ports

NO_RETRY = Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1})


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _exists(client: Any, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


def test_free_port_is_bindable() -> None:
    """free_port returns a port that can be bound right away."""
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
    assert 0 < port < 65536


def test_free_ports_avoid_grpc_offset_collisions() -> None:
    """free_ports returns distinct ports none of which is another's port + 10000."""
    ports = free_ports(20, avoid_offset=10000)
    assert len(set(ports)) == 20
    assert not {p + 10000 for p in ports} & set(ports)


@pytest.mark.integration
def test_put_get_roundtrip(seaweedfs: SeaweedFS) -> None:
    """Objects written with the admin identity read back unchanged."""
    client = seaweedfs.client()
    client.create_bucket(Bucket="roundtrip")
    data = os.urandom(100_000)
    client.put_object(Bucket="roundtrip", Key="a/b.bin", Body=data)
    assert client.get_object(Bucket="roundtrip", Key="a/b.bin")["Body"].read() == data
    assert seaweedfs.endpoint_url == f"http://127.0.0.1:{seaweedfs.ports['s3.port']}"


@pytest.mark.integration
def test_every_port_is_explicit_and_distinct(seaweedfs: SeaweedFS) -> None:
    """All listeners, gRPC ones included, got their own chosen port."""
    ports = seaweedfs.ports
    assert {"master.port.grpc", "volume.port.grpc", "filer.port.grpc", "s3.port.grpc"} <= set(ports)
    assert len(set(ports.values())) == len(ports)


@pytest.mark.integration
def test_readonly_identity_denied_on_put(
    seaweedfs: SeaweedFS, readonly_identity: S3Identity, scoped_bucket: str
) -> None:
    """A Read/List identity gets 403 AccessDenied on put_object and can still read."""
    seaweedfs.client().put_object(Bucket=scoped_bucket, Key="ro/existing", Body=b"x")
    readonly = seaweedfs.client(readonly_identity, NO_RETRY)
    with pytest.raises(ClientError) as exc:
        readonly.put_object(Bucket=scoped_bucket, Key="ro/new", Body=b"x")
    assert _error(exc) == ("AccessDenied", 403)
    assert readonly.get_object(Bucket=scoped_bucket, Key="ro/existing")["Body"].read() == b"x"
    assert not _exists(seaweedfs.client(), scoped_bucket, "ro/new")


@pytest.mark.integration
def test_scoped_identity_single_deletes(
    seaweedfs: SeaweedFS, scoped_identity: S3Identity, scoped_bucket: str
) -> None:
    """Write:<bucket>/allowed/* permits deleting allowed/x but not other/x."""
    admin = seaweedfs.client()
    for key in ("allowed/x", "other/x"):
        admin.put_object(Bucket=scoped_bucket, Key=key, Body=b"1")
    scoped = seaweedfs.client(scoped_identity, NO_RETRY)
    with pytest.raises(ClientError) as exc:
        scoped.delete_object(Bucket=scoped_bucket, Key="other/x")
    assert _error(exc) == ("AccessDenied", 403)
    scoped.delete_object(Bucket=scoped_bucket, Key="allowed/x")
    assert _exists(admin, scoped_bucket, "other/x")
    assert not _exists(admin, scoped_bucket, "allowed/x")


@pytest.mark.integration
def test_scoped_identity_mixed_delete_objects(
    seaweedfs: SeaweedFS, scoped_identity: S3Identity, scoped_bucket: str
) -> None:
    """One DeleteObjects gives per-key answers: allowed/ deleted, other/ AccessDenied."""
    admin = seaweedfs.client()
    keys = ["allowed/m1", "other/m1", "allowed/m2", "allowedfoo/m1"]
    for key in keys:
        admin.put_object(Bucket=scoped_bucket, Key=key, Body=b"1")
    scoped = seaweedfs.client(scoped_identity, NO_RETRY)
    result = scoped.delete_objects(
        Bucket=scoped_bucket, Delete={"Objects": [{"Key": k} for k in keys]}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["allowed/m1", "allowed/m2"]
    errors = {e["Key"]: e["Code"] for e in result["Errors"]}
    assert errors == {"other/m1": "AccessDenied", "allowedfoo/m1": "AccessDenied"}
    assert [_exists(admin, scoped_bucket, k) for k in keys] == [False, True, False, True]


@pytest.mark.integration
def test_head_missing_bucket_and_key_are_bare_404(seaweedfs: SeaweedFS, scoped_bucket: str) -> None:
    """HEAD on a missing bucket and on a missing key both give a body-less 404."""
    client = seaweedfs.client(config=NO_RETRY)
    calls: list[tuple[str, dict[str, str]]] = [
        ("head_bucket", {"Bucket": "no-such-bucket"}),
        ("head_object", {"Bucket": "no-such-bucket", "Key": "k"}),
        ("head_object", {"Bucket": scoped_bucket, "Key": "no/such/key"}),
    ]
    for method, kwargs in calls:
        with pytest.raises(ClientError) as exc:
            getattr(client, method)(**kwargs)
        assert _error(exc) == ("404", 404)


@pytest.mark.integration
def test_start_timeout_raises_and_cleans_up(tmp_path: Path) -> None:
    """A start that cannot become ready in time raises with the log and leaves nothing."""
    server = SeaweedFS(tmp_path)
    with pytest.raises(RuntimeError, match="not ready"):
        server.start(timeout=0.01)
    assert not server.running
    assert server.log_path.exists()
    server.stop()


@pytest.mark.integration
def test_stop_is_idempotent_and_removes_sockets(tmp_path: Path) -> None:
    """Stopping kills the process group, removes weed's /tmp gRPC sockets, and can repeat."""
    with SeaweedFS(tmp_path / f"sw-{uuid.uuid4().hex[:6]}") as server:
        proc = server._proc
        assert proc is not None
        assert server.running
        grpc_port = server.ports["master.port.grpc"]
        server.client().list_buckets()
    assert proc.poll() is not None
    assert not server.running
    assert not Path(f"/tmp/seaweedfs-master-grpc-{grpc_port}.sock").exists()
    server.stop()
