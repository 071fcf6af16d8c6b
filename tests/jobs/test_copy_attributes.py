"""Every copy path keeps every attribute its source carries, read back from outside with boto3.

One source object carries every attribute (content headers, a redirect, metadata, tags,
STANDARD_IA, SSE-KMS with a moto KMS key and a bucket key, a GOVERNANCE lock and a legal hold)
and gzip bytes; each copy path copies it, and the copy's table of attributes (and bytes) must
equal the source's. The paths: a single-part ``CopyObject``, a multipart source copied with
``UploadPartCopy``, a copy with ``checksum=``, a cross-endpoint stream, a ``CopyJob`` and a
migration of every version. Then what a destination cannot keep is reported and counted.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from storage_jobs.jobs import CopyJob, MigrateBatchJob, MigrateJob, ObjectRef
from storage_jobs.jobs._copy import run_copy
from storage_jobs.jobs._migrate import run_migrate_batch
from storage_jobs.storage import StorageClient, StorageConfig
from tests.fixtures_moto import moto_boto3
from tests.jobs.conftest import RecordingLog, make_ctx

pytestmark = pytest.mark.integration

BODY = gzip.compress(b"keep me as I am " * 64)
UNTIL = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)


def attribute_table(
    s3: Any, bucket: str, key: str, version_id: str | None = None
) -> dict[str, Any]:
    """Everything an object carries, as S3 answers it (tags and bytes included)."""
    at = {"VersionId": version_id} if version_id else {}
    head = s3.head_object(Bucket=bucket, Key=key, **at)
    tags = s3.get_object_tagging(Bucket=bucket, Key=key, **at)["TagSet"]
    body = s3.get_object(Bucket=bucket, Key=key, **at)["Body"].read()
    metadata = {k: v for k, v in head.get("Metadata", {}).items() if not k.startswith("sj-")}
    return {
        "content_type": head.get("ContentType"),
        "cache_control": head.get("CacheControl"),
        "content_disposition": head.get("ContentDisposition"),
        "content_encoding": head.get("ContentEncoding"),
        "content_language": head.get("ContentLanguage"),
        "expires": head.get("Expires"),
        "website_redirect_location": head.get("WebsiteRedirectLocation"),
        "metadata": metadata,
        "tags": sorted((t["Key"], t["Value"]) for t in tags),
        "storage_class": head.get("StorageClass"),
        "sse": (head.get("ServerSideEncryption"), head.get("SSEKMSKeyId")),
        "bucket_key": head.get("BucketKeyEnabled"),
        "object_lock": (head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")),
        "legal_hold": head.get("ObjectLockLegalHoldStatus"),
        "bytes": body,
    }


@pytest.fixture(scope="module")
def kms_key(moto_endpoint: str) -> str:
    """A key of moto's KMS (the same server)."""
    return str(moto_boto3(moto_endpoint, "kms").create_key()["KeyMetadata"]["Arn"])


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    """boto3, from outside."""
    return moto_boto3(moto_endpoint)


def locked_bucket(s3: Any) -> str:
    name = f"l-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def put_source(s3: Any, bucket: str, key: str, kms_key: str, *, multipart: bool) -> ObjectRef:
    """The source: every attribute, gzip bytes; one part uploaded multipart if asked."""
    args: dict[str, Any] = {
        "ContentType": "text/plain; charset=utf-8",
        "CacheControl": "max-age=60, public",
        "ContentDisposition": 'attachment; filename="k.txt"',
        "ContentEncoding": "gzip",
        "ContentLanguage": "fr-CA",
        "Expires": datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC),
        "WebsiteRedirectLocation": "/elsewhere",
        "Metadata": {"owner": "team-a"},
        "Tagging": "project=blue&tier=gold",
        "StorageClass": "STANDARD_IA",
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": kms_key,
        "BucketKeyEnabled": True,
        "ObjectLockMode": "GOVERNANCE",
        "ObjectLockRetainUntilDate": UNTIL,
        "ObjectLockLegalHoldStatus": "ON",
    }
    if not multipart:
        answer = s3.put_object(Bucket=bucket, Key=key, Body=BODY, **args)
    else:
        # moto keeps no Object Lock given to CreateMultipartUpload: set it afterwards.
        lock = {k: args.pop(k) for k in list(args) if k.startswith("ObjectLock")}
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key, **args)["UploadId"]
        part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=BODY)
        answer = s3.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
        retention = {"Mode": lock["ObjectLockMode"], "RetainUntilDate": UNTIL}
        s3.put_object_retention(Bucket=bucket, Key=key, Retention=retention)
        s3.put_object_legal_hold(Bucket=bucket, Key=key, LegalHold={"Status": "ON"})
    return ObjectRef(
        key=key, size=len(BODY), etag=answer["ETag"].strip('"'), version_id=answer["VersionId"]
    )


@pytest.fixture
async def small_copies(moto_config: StorageConfig) -> AsyncIterator[StorageClient]:
    """A client that copies anything above 10 bytes with ``UploadPartCopy``."""
    async with StorageClient(moto_config.model_copy(update={"copy_multipart_threshold": 10})) as c:
        yield c


Copier = Callable[..., Awaitable[tuple[str | None, Any]]]


async def migrate(
    client: StorageClient,
    redis: Redis,
    log: RecordingLog,
    ref: ObjectRef,
    src: str,
    dst: str,
    source: StorageClient | None = None,
    **fields: Any,
) -> tuple[str | None, Any]:
    """Runs one migration batch of ``ref``; returns the copy's version and the batch result."""
    spec = MigrateJob(src_bucket=src, dst_bucket=dst, dst_prefix="copy/", report="all", **fields)
    ctx = make_ctx(client, redis, log)
    if source is not None:

        async def open_source(name: str) -> StorageClient:
            return source

        ctx = dataclasses.replace(ctx, source=open_source)
    if not spec.all_versions:
        ref = ref.model_copy(update={"version_id": None})
    batch = MigrateBatchJob(migration_id=ctx.job_id, batch=1, spec=spec, objects=[ref])
    result = await run_migrate_batch(batch, ctx)
    lines = [
        json.loads(line)
        async for chunk in ctx.state.progress(ctx.job_id).iter_records()
        for line in chunk
    ]
    assert [line["status"] for line in lines] == ["copied"], lines
    return lines[0].get("version_id"), result


PATHS = ["single_part", "multipart_source", "checksum", "cross_endpoint", "copy_job", "versioned"]


@pytest.mark.parametrize("path", PATHS)
async def test_every_copy_path_keeps_every_attribute(
    path: str,
    s3: Any,
    kms_key: str,
    moto_client: StorageClient,
    small_copies: StorageClient,
    redis: Redis,
    recording_log: RecordingLog,
) -> None:
    """The copy's attribute table (and bytes) equals its source's, whatever the path."""
    src, dst = locked_bucket(s3), locked_bucket(s3)
    ref = put_source(s3, src, "obj", kms_key, multipart=path == "multipart_source")
    version: str | None = None
    if path == "copy_job":
        job = CopyJob(src_bucket=src, src_key="obj", dst_bucket=dst, dst_key="copy/obj")
        result = await run_copy(job, make_ctx(moto_client, redis, recording_log))
        assert result.lost == []
    else:
        client = small_copies if path == "multipart_source" else moto_client
        by_path: dict[str, dict[str, Any]] = {
            "checksum": {"checksum": "sha256"},
            "cross_endpoint": {"src_endpoint": "other"},
            "versioned": {"all_versions": True},
        }
        fields = by_path.get(path, {})
        source = moto_client if path == "cross_endpoint" else None
        version, result = await migrate(
            client, redis, recording_log, ref, src, dst, source, **fields
        )
        assert (result.done, result.attributes_lost, result.lost_attributes) == (1, 0, {})
    copied = attribute_table(s3, dst, "copy/obj", version)
    assert copied == attribute_table(s3, src, "obj")
    if path == "multipart_source":
        # The multipart path was the one taken: UploadPartCopy makes a multipart ETag.
        assert "-" in s3.head_object(Bucket=dst, Key="copy/obj")["ETag"]


async def test_what_a_destination_cannot_keep_is_reported_and_counted(
    s3: Any,
    kms_key: str,
    moto_client: StorageClient,
    admin_storage: StorageClient,
    bucket: str,
    redis: Redis,
    recording_log: RecordingLog,
) -> None:
    """From moto to SeaweedFS: SSE refused, the redirect dropped, no Object Lock; each reported.

    SeaweedFS answers encryption headers with 500 and stores no website redirect (the probe
    in docs/prefix-jobs.md); its bucket here has no Object Lock. The copy goes on with the rest.
    """
    src = locked_bucket(s3)
    ref = put_source(s3, src, "obj", kms_key, multipart=False)
    spec = MigrateJob(
        src_bucket=src, dst_bucket=bucket, dst_prefix="kept/", src_endpoint="moto", report="all"
    )
    # One attempt per request: SeaweedFS answers each encryption header with the same 500.
    config = admin_storage.config.model_copy(update={"max_attempts": 1})
    async with StorageClient(config) as seaweed:
        ctx = make_ctx(seaweed, redis, recording_log)
        await check_losses(ctx, moto_client, seaweed, spec, ref, bucket)


async def check_losses(
    ctx: Any,
    moto_client: StorageClient,
    admin_storage: StorageClient,
    spec: MigrateJob,
    ref: ObjectRef,
    bucket: str,
) -> None:
    """Runs the batch to SeaweedFS and checks each loss is reported, counted and no more."""

    async def open_source(name: str) -> StorageClient:
        return moto_client

    ctx = dataclasses.replace(ctx, source=open_source)
    batch = MigrateBatchJob(
        migration_id=ctx.job_id,
        batch=1,
        spec=spec,
        objects=[ref.model_copy(update={"version_id": None})],
    )
    result = await run_migrate_batch(batch, ctx)
    lost = {"sse": 1, "website_redirect_location": 1, "object_lock": 1}
    assert (result.done, result.attributes_lost, result.lost_attributes) == (1, 1, lost)
    store = ctx.state.progress(ctx.job_id)
    assert (await store.read()).attributes_lost == 1
    [line] = [json.loads(x) async for chunk in store.iter_records() for x in chunk]
    assert line["status"] == "copied"
    assert sorted(x.split(":")[0] for x in line["lost"]) == sorted(lost)
    assert any("InternalError" in x for x in line["lost"] if x.startswith("sse"))
    head = await admin_storage.head_object(bucket=bucket, key="kept/obj")
    attributes = head["attributes"]
    assert (attributes.cache_control, attributes.storage_class) == (
        "max-age=60, public",
        "STANDARD_IA",
    )
    assert await admin_storage.object_tags(bucket=bucket, key="kept/obj") == {
        "project": "blue",
        "tier": "gold",
    }
    assert await admin_storage.fetch_file(bucket=bucket, key="kept/obj") == BODY


async def test_preserve_and_write_options_decide_what_a_copy_carries(
    s3: Any, kms_key: str, moto_client: StorageClient, redis: Redis, recording_log: RecordingLog
) -> None:
    """``preserve`` keeps only what it names; an asked-for class and encryption win."""
    src, dst = locked_bucket(s3), locked_bucket(s3)
    ref = put_source(s3, src, "obj", kms_key, multipart=False)
    _, result = await migrate(
        moto_client,
        redis,
        recording_log,
        ref,
        src,
        dst,
        preserve=["content_type", "tags"],
        dst_storage_class="GLACIER_IR",
        sse="AES256",
    )
    assert result.attributes_lost == 0
    copied = attribute_table(s3, dst, "copy/obj")
    source = attribute_table(s3, src, "obj")
    assert (copied["content_type"], copied["tags"], copied["bytes"]) == (
        source["content_type"],
        source["tags"],
        BODY,
    )
    assert copied["storage_class"] == "GLACIER_IR"
    assert copied["sse"] == ("AES256", None)
    assert (copied["cache_control"], copied["metadata"], copied["object_lock"]) == (
        None,
        {},
        (None, None),
    )
