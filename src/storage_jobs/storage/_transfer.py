"""Streams and files: uploads of unknown length, streamed downloads, bounded memory."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from ._attributes import AttributeLoss, ObjectAttributes
from ._checksums import ChecksumAlgorithm, Hasher, checksum_args
from ._config import StorageConfig
from ._errors import map_backend_error
from ._keeping import Keeping, droppable
from ._multipart import Chunk, multipart_upload
from ._objects import ObjectInfo, strip_etag
from ._parts import PartBuffers, PooledPart, gather_parts, read_parts
from ._s3_connection import SourceError

__all__ = ["Transfers", "put_args"]

_HASH_IN_LOOP = 256 * 1024
"""Bytes hashed in the event loop at most (a larger single PUT is hashed in a thread)."""

_READ_CHUNK = 1024 * 1024


class Transfers(Keeping):
    """Uploads and downloads that never hold a whole large object in memory."""

    async def put_bytes(
        self,
        *,
        bucket: str,
        key: str,
        data: bytes,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        extra_args: dict[str, Any] | None = None,
        checksum: ChecksumAlgorithm | None = None,
        attributes: ObjectAttributes | None = None,
        required: Iterable[str] = (),
    ) -> ObjectInfo:
        """Like ``upload_file``, but says what was stored (size and ETag).

        With ``checksum`` (and ``additional_checksums``), the request carries the bytes'
        checksum and the server refuses it if what arrived differs. With ``attributes``, the
        object gets them all (``content_type`` and ``metadata``, if given, win); those the
        destination refuses, unless ``required``, are left out and listed in ``lost``.
        """
        sums: dict[str, Any] = {}
        if checksum is not None and self.config.additional_checksums:
            # A single PUT may be megabytes: hashed off the loop, which keeps serving (a small
            # one in place: a thread hop costs more than its hash).
            if len(data) > _HASH_IN_LOOP:
                hashed = await asyncio.to_thread(Hasher.of, checksum, data)
            else:
                hashed = Hasher.of(checksum, data)
            sums = checksum_args(checksum, hashed.s3_value())
        if attributes is None:
            args = {**put_args(content_type, metadata, extra_args), **sums}
            answer = await self._call(
                self.s3.put_object(Bucket=bucket, Key=key, Body=data, **args),
                bucket=bucket,
                key=key,
            )
            lost: list[AttributeLoss] = []
        else:
            attributes = attributes.with_values(content_type=content_type, metadata=metadata)

            async def put(drop: frozenset[str]) -> Any:
                args = {**(extra_args or {}), **attributes.write_args(drop), **sums}
                return await self.s3.put_object(Bucket=bucket, Key=key, Body=data, **args)

            answer, lost = await self._call(
                self._send_keeping(put, attributes, bucket=bucket, may_drop=droppable(required)),
                bucket=bucket,
                key=key,
            )
            lost += await self._after_write(
                attributes,
                bucket=bucket,
                key=key,
                version_id=answer.get("VersionId"),
                refused=lost,
            )
        return ObjectInfo(
            bucket=bucket,
            key=key,
            size=len(data),
            etag=strip_etag(answer["ETag"]),
            version_id=answer.get("VersionId"),
            lost=tuple(lost),
        )

    async def upload_path(
        self,
        *,
        bucket: str,
        key: str,
        path: str | os.PathLike[str],
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> ObjectInfo:
        """Uploads a local file; multipart above ``multipart_threshold`` with bounded memory."""
        with open(path, "rb") as fh:
            return await self.upload_stream(
                bucket=bucket, key=key, stream=fh, content_type=content_type, metadata=metadata
            )

    async def upload_stream(
        self,
        *,
        bucket: str,
        key: str,
        stream: IO[bytes] | AsyncIterable[bytes],
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        checksum: ChecksumAlgorithm | None = None,
        attributes: ObjectAttributes | None = None,
        required: Iterable[str] = (),
    ) -> ObjectInfo:
        """Uploads a binary file object or async byte stream of unknown length.

        Up to ``multipart_threshold`` bytes are sent in one ``PutObject``; beyond that the
        stream is sent in parts of ``multipart_chunksize``, ``multipart_concurrency`` at a time,
        and the upload is aborted if anything fails. With ``checksum`` (and
        ``additional_checksums``) every request carries its bytes' checksum, which the server
        checks; a multipart CRC32C upload asks for a full-object checksum (``FULL_OBJECT``).
        ``attributes`` and ``required`` are as ``put_bytes``'s.
        """
        cfg = self.config
        if not cfg.additional_checksums:
            checksum = None
        chunks = _chunks(stream, cfg.multipart_chunksize, _buffers_needed(cfg))
        head: list[Chunk] = []
        buffered = 0
        async for chunk in chunks:
            head.append(chunk)
            buffered += len(chunk)
            if buffered >= cfg.multipart_threshold:
                break
        else:
            return await self.put_bytes(
                bucket=bucket,
                key=key,
                data=_joined(head),
                content_type=content_type,
                metadata=metadata,
                checksum=checksum,
                attributes=attributes,
                required=required,
            )

        async def everything() -> AsyncIterator[Chunk]:
            for chunk in head:
                yield chunk
            head.clear()
            try:
                async for chunk in chunks:
                    yield chunk
            except Exception as exc:
                raise SourceError(exc) from exc

        lost: list[AttributeLoss] = []
        create: Any = None
        if attributes is not None:
            kept = attributes.with_values(content_type=content_type, metadata=metadata)

            async def create(sums: dict[str, Any]) -> Any:
                async def start(drop: frozenset[str]) -> Any:
                    args = {**kept.write_args(drop), **sums}
                    return await self.s3.create_multipart_upload(Bucket=bucket, Key=key, **args)

                answer, refused = await self._send_keeping(
                    start, kept, bucket=bucket, may_drop=droppable(required)
                )
                lost.extend(refused)
                return answer

        try:
            info = await self._call(
                multipart_upload(
                    self.s3,
                    bucket=bucket,
                    key=key,
                    chunks=everything(),
                    concurrency=cfg.multipart_concurrency,
                    extra=put_args(content_type, metadata, None),
                    checksum=checksum,
                    create=create,
                ),
                bucket=bucket,
                key=key,
            )
        except SourceError as exc:
            # The caller's own stream failed: give them their exception, not a storage error.
            raise exc.original from exc.original.__cause__
        if attributes is None:
            return info
        lost += await self._after_write(
            kept,
            bucket=bucket,
            key=key,
            version_id=info.version_id,
            refused=lost,
        )
        return dataclasses.replace(info, lost=tuple(lost))

    async def stream_object(
        self,
        *,
        bucket: str,
        key: str,
        chunk_size: int = _READ_CHUNK,
        offset: int = 0,
        version_id: str | None = None,
    ) -> AsyncIterator[bytes]:
        """Yields an object's bytes in chunks, never holding the whole object.

        Args:
            bucket: The bucket.
            key: The key.
            chunk_size: Bytes per chunk read.
            offset: Start this many bytes in (a ranged GET), to resume a read.
            version_id: Read this version instead of the current one.
        """
        args: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if offset > 0:
            args["Range"] = f"bytes={offset}-"
        if version_id:
            args["VersionId"] = version_id
        try:
            answer = await self.s3.get_object(**args)
        except Exception as exc:
            raise map_backend_error(exc, bucket=bucket, key=key) from exc
        body = answer["Body"]
        async with body:
            while True:
                try:
                    chunk = await body.read(chunk_size)
                except Exception as exc:
                    raise map_backend_error(exc, bucket=bucket, key=key) from exc
                if not chunk:
                    return
                yield chunk

    async def download_to_path(self, *, bucket: str, key: str, path: str | os.PathLike[str]) -> int:
        """Streams an object to a local file, replaced atomically once complete.

        Returns:
            The number of bytes written.
        """
        target = Path(path)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        written = 0
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in self.stream_object(bucket=bucket, key=key):
                    out.write(chunk)
                    written += len(chunk)
            Path(tmp).replace(target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                Path(tmp).unlink()
            raise
        return written


def put_args(
    content_type: str | None, metadata: Mapping[str, str] | None, extra: Mapping[str, Any] | None
) -> dict[str, Any]:
    args: dict[str, Any] = dict(extra or {})
    if content_type is not None:
        args["ContentType"] = content_type
    if metadata:
        args["Metadata"] = dict(metadata)
    return args


def _buffers_needed(cfg: StorageConfig) -> int:
    # The parts in flight, or the parts read to learn the stream is past the threshold.
    return max(
        cfg.multipart_concurrency, math.ceil(cfg.multipart_threshold / cfg.multipart_chunksize)
    )


def _chunks(
    stream: IO[bytes] | AsyncIterable[bytes], size: int, buffers: int
) -> AsyncIterator[Chunk]:
    """The stream in parts of ``size`` bytes (the last may be shorter), in reused buffers.

    A file (anything with ``readinto``) is read straight into at most ``buffers`` part
    buffers (``_parts``); any other stream's chunks are copied into them, once.
    """
    pool = PartBuffers(size, buffers)
    if isinstance(stream, AsyncIterable):
        return gather_parts(aiter(stream), pool)
    readinto = getattr(stream, "readinto", None)
    if readinto is None:
        return gather_parts(_read_bytes(stream, size), pool)
    return read_parts(readinto, pool)


def _joined(chunks: list[Chunk]) -> bytes:
    """The chunks' bytes as one object (a small upload's single PUT); pooled parts are released."""
    data = b"".join(c.body.getbuffer() if isinstance(c, PooledPart) else c for c in chunks)
    for chunk in chunks:
        if isinstance(chunk, PooledPart):
            chunk.release()
    return data


async def _read_bytes(stream: IO[bytes], read_size: int) -> AsyncIterator[bytes]:
    while chunk := stream.read(read_size):
        yield chunk
