"""The probe of what a server keeps of each attribute: written, then copied by ``CopyObject``.

The table it asserts is the one in docs/prefix-jobs.md ("What a copy keeps"). A cell is ``kept``,
``dropped`` (accepted, not stored) or the error code that refused it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from storage_jobs.devstack import SeaweedFS
from tests.fixtures_moto import moto_boto3

UNTIL = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
ATTRIBUTES: dict[str, dict[str, Any]] = {
    "cache_control": {"CacheControl": "max-age=60"},
    "content_encoding": {"ContentEncoding": "gzip"},
    "website_redirect_location": {"WebsiteRedirectLocation": "/x"},
    "tags": {"Tagging": "t=1"},
    "storage_class": {"StorageClass": "STANDARD_IA"},
    "sse_s3": {"ServerSideEncryption": "AES256"},
    "sse_kms": {"ServerSideEncryption": "aws:kms"},
    "object_lock": {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": UNTIL},
    "legal_hold": {"ObjectLockLegalHoldStatus": "ON"},
}
# (written, after a plain CopyObject) per attribute and server.
MOTO = {name: ("kept", "kept") for name in ATTRIBUTES} | {
    "storage_class": ("kept", "dropped"),
    "sse_s3": ("kept", "dropped"),
    "sse_kms": ("kept", "dropped"),
    "object_lock": ("kept", "dropped"),
    "legal_hold": ("kept", "dropped"),
}
SEAWEEDFS = {name: ("kept", "kept") for name in ATTRIBUTES} | {
    "website_redirect_location": ("dropped", "dropped"),
    "sse_s3": ("InternalError", "-"),
    "sse_kms": ("InternalError", "-"),
}


def _kept(s3: Any, bucket: str, key: str, name: str) -> bool:
    head = s3.head_object(Bucket=bucket, Key=key)
    if name == "tags":
        return bool(s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"])
    if name == "object_lock":
        return bool(head.get("ObjectLockMode") == "GOVERNANCE")
    [(field, value)] = [(f, v) for f, v in ATTRIBUTES[name].items() if f != "SSEKMSKeyId"]
    return bool(head.get(field) == value)


def probe(s3: Any) -> dict[str, tuple[str, str]]:
    """What the server keeps of each attribute written, then copied with ``CopyObject``."""
    bucket = f"probe-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    table: dict[str, tuple[str, str]] = {}
    for name, args in ATTRIBUTES.items():
        try:
            s3.put_object(Bucket=bucket, Key=name, Body=b"x", **args)
        except ClientError as exc:
            table[name] = (exc.response["Error"]["Code"], "-")
            continue
        s3.copy_object(
            Bucket=bucket, Key=f"{name}.copy", CopySource={"Bucket": bucket, "Key": name}
        )
        table[name] = tuple(  # type: ignore[assignment]
            "kept" if _kept(s3, bucket, key, name) else "dropped" for key in (name, f"{name}.copy")
        )
    return table


def test_moto_keeps_on_writes_and_drops_class_encryption_and_lock_on_copies(
    moto_endpoint: str,
) -> None:
    """On moto (AWS's semantics), CopyObject drops class, encryption and Object Lock."""
    assert probe(moto_boto3(moto_endpoint)) == MOTO


@pytest.mark.integration
def test_seaweedfs_refuses_encryption_and_drops_redirects(seaweedfs: SeaweedFS) -> None:
    """SeaweedFS: SSE refused (500), website redirects not stored, the rest kept, on copies too."""
    # One attempt: botocore would retry each 500 with backoff, the same answer each time.
    s3 = seaweedfs.client(
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1})
    )
    assert probe(s3) == SEAWEEDFS
