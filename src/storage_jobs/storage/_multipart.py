"""Multipart uploads and copies with bounded memory; aborted on failure, never left behind."""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from ._checksums import ChecksumAlgorithm, Hasher, checksum_args
from ._objects import ObjectInfo, strip_etag
from ._parts import PooledPart

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef, CopySourceTypeDef

__all__ = ["MAX_PARTS", "Chunk", "multipart_copy", "multipart_upload", "part_size_for"]

MAX_PARTS = 10_000


Chunk = bytes | PooledPart
"""A part to upload: bytes (sent as they are, never changed) or a part in a pooled buffer."""


def _body(chunk: Chunk) -> bytes | io.BytesIO:
    # botocore wraps bytes in a BytesIO that shares them; a pooled part is its own BytesIO.
    return chunk.request_body() if isinstance(chunk, PooledPart) else chunk


@contextlib.contextmanager
def _data(chunk: Chunk) -> Iterator[bytes | memoryview]:
    if isinstance(chunk, PooledPart):
        with chunk.view() as view:
            yield view
    else:
        yield chunk


def part_size_for(size: int, chunksize: int) -> int:
    """Returns a part size >= chunksize that keeps ``size`` within S3's 10,000 parts."""
    return max(chunksize, math.ceil(size / MAX_PARTS))


async def multipart_upload(
    client: S3Client,
    *,
    bucket: str,
    key: str,
    chunks: AsyncIterator[Chunk],
    concurrency: int,
    extra: Mapping[str, Any],
    checksum: ChecksumAlgorithm | None = None,
    create: Callable[[dict[str, Any]], Awaitable[Any]] | None = None,
) -> ObjectInfo:
    """Uploads the chunks as parts, at most ``concurrency`` in memory and in flight.

    Each chunk but the last must be at least 5 MiB (S3's minimum part size).

    Args:
        client: The connected S3 client.
        bucket: Destination bucket.
        key: Destination key.
        chunks: The parts, in order. A pooled part is released (its buffer reused) once its
            request has been answered, before the slot it held is freed.
        concurrency: Parts read ahead and uploading at once.
        extra: ``CreateMultipartUpload`` arguments (ContentType, Metadata, ...).
        checksum: Send each part's checksum (the server checks it); for CRC32C also the
            whole object's, so the object gets a full-object checksum, not a composite one.
        create: Creates the upload instead of ``CreateMultipartUpload`` with ``extra``, given
            the checksum arguments (a caller that sends attributes a server may refuse).

    Returns:
        What was stored.
    """
    sums: dict[str, Any] = {}
    whole: Hasher | None = None
    if checksum is not None:
        sums.update(checksum_args(checksum))
        if checksum == "crc32c":
            # CRC32C can be combined across parts: S3 then stores the whole object's CRC.
            sums["ChecksumType"] = "FULL_OBJECT"
            whole = Hasher(checksum)
    if create is not None:
        created = await create(sums)
    else:
        created = await client.create_multipart_upload(Bucket=bucket, Key=key, **extra, **sums)
    upload_id = created["UploadId"]
    slots = asyncio.Semaphore(concurrency)
    parts: dict[int, CompletedPartTypeDef] = {}
    tasks: list[asyncio.Task[None]] = []
    size = 0

    async def send(number: int, chunk: Chunk) -> None:
        answered = False
        try:
            sums: dict[str, Any] = {}
            if checksum is not None:
                with _data(chunk) as data:  # hashed off the loop: a part is megabytes
                    hashed = await asyncio.to_thread(Hasher.of, checksum, data)
                    sums = checksum_args(checksum, hashed.s3_value())
            answer = await client.upload_part(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=_body(chunk),
                **sums,
            )
            part: dict[str, Any] = {"PartNumber": number, "ETag": answer["ETag"]}
            part.update({k: v for k, v in sums.items() if k != "ChecksumAlgorithm"})
            parts[number] = cast("CompletedPartTypeDef", part)
            answered = True
        finally:
            if isinstance(chunk, PooledPart):
                # The server answered after reading every byte: the buffer takes the next part
                # (released before the slot, so a reader never waits for one). A failed or
                # cancelled request's buffer may still be read by aiohttp: it is dropped.
                chunk.release(reuse=answered)
            slots.release()

    try:
        number = 0
        while True:
            # The slot is taken before the read, so memory stays at `concurrency` parts.
            await slots.acquire()
            if any(t.done() and t.exception() for t in tasks):
                slots.release()
                break
            chunk = await anext(chunks, None)
            if chunk is None:
                slots.release()
                break
            number += 1
            size += len(chunk)
            if whole is not None:
                with _data(chunk) as data:
                    await asyncio.to_thread(whole.update, data)
            tasks.append(asyncio.create_task(send(number, chunk)))
        await asyncio.gather(*tasks)
        if number == 0:
            # An empty stream still makes an object: a single empty part.
            await slots.acquire()
            await send(1, b"")
            number = 1
        complete: dict[str, Any] = {}
        if whole is not None:
            complete = {"ChecksumType": "FULL_OBJECT", "ChecksumCRC32C": whole.s3_value()}
        done = await client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [parts[n] for n in range(1, number + 1)]},
            **complete,
        )
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await _abort(client, bucket, key, upload_id)
        raise
    return ObjectInfo(
        bucket=bucket,
        key=key,
        size=size,
        etag=strip_etag(done.get("ETag")),
        version_id=done.get("VersionId"),
    )


async def multipart_copy(
    client: S3Client,
    *,
    src_bucket: str,
    src_key: str,
    dst_bucket: str,
    dst_key: str,
    size: int,
    chunksize: int,
    concurrency: int,
    extra: Mapping[str, Any],
    src_version_id: str | None = None,
    create: Callable[[], Awaitable[Any]] | None = None,
) -> ObjectInfo:
    """Copies an object server-side with ``UploadPartCopy``, for sources above 5 GiB.

    Args:
        client: The connected S3 client.
        src_bucket: Source bucket.
        src_key: Source key.
        dst_bucket: Destination bucket.
        dst_key: Destination key.
        size: The source's size in bytes.
        chunksize: The wanted part size (raised if the object would need more than 10,000).
        concurrency: Parts copying at once.
        extra: ``CreateMultipartUpload`` arguments (ContentType, Metadata, ...).
        src_version_id: Copy this version of the source.
        create: Creates the upload instead of ``CreateMultipartUpload`` with ``extra``.

    Returns:
        What was stored.
    """
    source: CopySourceTypeDef = {"Bucket": src_bucket, "Key": src_key}
    if src_version_id:
        source["VersionId"] = src_version_id
    part = part_size_for(size, chunksize)
    ranges = [(start, min(start + part, size) - 1) for start in range(0, size, part)]
    if create is not None:
        created = await create()
    else:
        created = await client.create_multipart_upload(Bucket=dst_bucket, Key=dst_key, **extra)
    upload_id = created["UploadId"]
    slots = asyncio.Semaphore(concurrency)

    async def copy_part(number: int, first: int, last: int) -> CompletedPartTypeDef:
        async with slots:
            answer = await client.upload_part_copy(
                Bucket=dst_bucket,
                Key=dst_key,
                UploadId=upload_id,
                PartNumber=number,
                CopySource=source,
                CopySourceRange=f"bytes={first}-{last}",
            )
            return {"PartNumber": number, "ETag": answer["CopyPartResult"].get("ETag", "")}

    tasks = [
        asyncio.create_task(copy_part(n, first, last))
        for n, (first, last) in enumerate(ranges, start=1)
    ]
    try:
        parts = await asyncio.gather(*tasks)
        done = await client.complete_multipart_upload(
            Bucket=dst_bucket, Key=dst_key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await _abort(client, dst_bucket, dst_key, upload_id)
        raise
    return ObjectInfo(
        bucket=dst_bucket,
        key=dst_key,
        size=size,
        etag=strip_etag(done.get("ETag")),
        version_id=done.get("VersionId"),
    )


async def _abort(client: S3Client, bucket: str, key: str, upload_id: str) -> None:
    # Shielded so a cancelled job still cleans up; a failing abort must not hide the real error.
    with contextlib.suppress(Exception):
        await asyncio.shield(
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        )
