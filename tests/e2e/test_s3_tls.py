"""S3 over TLS: STORAGE_JOBS_S3_VERIFY decides which certificates the worker accepts."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from storage_jobs.client import JobFailedError, StorageJobsClient
from storage_jobs.devstack import SeaweedFS
from storage_jobs.jobs import UploadJob
from storage_jobs.storage import StorageClient
from tests.workers import WorkerProcess

pytestmark = pytest.mark.integration

StartWorker = Callable[..., WorkerProcess]


@dataclass(frozen=True)
class TlsFront:
    """A TLS endpoint in front of SeaweedFS, its certificate signed by a private CA.

    Attributes:
        url: The ``https://`` endpoint.
        ca_file: The private CA's certificate (PEM), the bundle a client must trust.
        handshakes: Completed TLS handshakes, one entry per connection.
    """

    url: str
    ca_file: Path
    handshakes: list[int]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for 127.0.0.1/localhost; returns the PEM paths."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("storage-jobs test CA"))
        .issuer_name(_name("storage-jobs test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (directory / n for n in ("ca.pem", "server.pem", "server.key"))
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@pytest.fixture
async def tls_front(tmp_path: Path, seaweedfs: SeaweedFS) -> AsyncIterator[TlsFront]:
    """Terminates TLS on a free port and forwards the plain bytes to SeaweedFS.

    A byte pipe, not a proxy: the Host header the client signed reaches SeaweedFS unchanged.
    """
    ca_file, cert_file, key_file = make_certificates(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    upstream = urlsplit(seaweedfs.endpoint_url)
    handshakes: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handshakes.append(1)  # called only once the handshake succeeded
        up_reader, up_writer = await asyncio.open_connection(upstream.hostname, upstream.port)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield TlsFront(f"https://127.0.0.1:{port}", ca_file, handshakes)
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)


async def test_worker_verifies_s3_certificates(
    start_worker: StartWorker,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    tls_front: TlsFront,
) -> None:
    """Unknown CA: refused before any request. With the CA bundle, or with ``false``: it works."""
    env = {
        "STORAGE_JOBS_S3_ENDPOINT_URL": tls_front.url,
        "STORAGE_JOBS_MAX_TRIES": "1",  # a certificate error is not worth retrying here
        "STORAGE_JOBS_S3_MAX_ATTEMPTS": "1",
    }
    default = start_worker(**env)  # STORAGE_JOBS_S3_VERIFY unset: the system's CAs
    refused = await jobs.enqueue(UploadJob(bucket=bucket, key="refused", data=b"no"))
    with pytest.raises(JobFailedError) as failed:
        await refused.result(timeout=60)
    assert "CERTIFICATE_VERIFY_FAILED" in failed.value.message
    assert tls_front.handshakes == []
    assert not await admin_storage.file_exists(bucket=bucket, key="refused")
    default.stop()

    with_ca = start_worker(STORAGE_JOBS_S3_VERIFY=str(tls_front.ca_file), **env)
    trusted = await jobs.enqueue(UploadJob(bucket=bucket, key="trusted", data=b"over tls"))
    assert (await trusted.result(timeout=60)).size == len(b"over tls")
    assert await admin_storage.fetch_file(bucket=bucket, key="trusted") == b"over tls"
    assert tls_front.handshakes
    with_ca.stop()

    start_worker(STORAGE_JOBS_S3_VERIFY="false", **env)  # encrypted, certificate not checked
    unverified = await jobs.enqueue(UploadJob(bucket=bucket, key="unverified", data=b"tls"))
    assert (await unverified.result(timeout=60)).size == len(b"tls")
    assert await admin_storage.fetch_file(bucket=bucket, key="unverified") == b"tls"
