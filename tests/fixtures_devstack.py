"""Fixtures for the embedded SeaweedFS server and the fault-injecting proxy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from storage_jobs.devstack import FaultProxy, S3Identity, SeaweedFS

SCOPED_BUCKET = "scoped-bucket"
READONLY_IDENTITY = S3Identity("readonly", "readonly-key", "readonly-secret", ("Read", "List"))
# SeaweedFS scopes actions as "<Action>:<bucket>[/<prefix>*]"; "Write" covers put and delete.
SCOPED_IDENTITY = S3Identity(
    "scoped",
    "scoped-key",
    "scoped-secret",
    (f"Read:{SCOPED_BUCKET}", f"List:{SCOPED_BUCKET}", f"Write:{SCOPED_BUCKET}/allowed/*"),
)
# SeaweedFS applies the actions of the credential-less identity named "anonymous" to unsigned
# requests: with "Read", plain HTTP GETs of public URLs work (writes stay 403).
ANONYMOUS_IDENTITY = S3Identity("anonymous", None, None, ("Read",))


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """One SeaweedFS for the session: readonly, scoped and anonymous-read identities."""
    server = SeaweedFS(
        tmp_path_factory.mktemp("seaweedfs"),
        identities=[READONLY_IDENTITY, SCOPED_IDENTITY, ANONYMOUS_IDENTITY],
    )
    server.start()
    try:
        server.client().create_bucket(Bucket=SCOPED_BUCKET)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def scoped_bucket(seaweedfs: SeaweedFS) -> str:
    """Bucket where ``scoped_identity`` may write only under ``allowed/``."""
    return SCOPED_BUCKET


@pytest.fixture(scope="session")
def readonly_identity() -> S3Identity:
    """Identity with Read and List on every bucket."""
    return READONLY_IDENTITY


@pytest.fixture(scope="session")
def scoped_identity() -> S3Identity:
    """Identity that may read ``scoped_bucket`` and write/delete only ``allowed/*`` in it."""
    return SCOPED_IDENTITY


@pytest.fixture
def fault_proxy(seaweedfs: SeaweedFS) -> Iterator[FaultProxy]:
    """A FaultProxy (own thread and loop) in front of ``seaweedfs``, holding admin keys."""
    proxy = FaultProxy(
        seaweedfs.endpoint_url, credentials=(seaweedfs.access_key, seaweedfs.secret_key)
    )
    proxy.start_in_thread()
    try:
        yield proxy
    finally:
        proxy.stop_thread()
