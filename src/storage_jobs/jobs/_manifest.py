"""Keys from a manifest instead of a listing: an S3 Batch Operations CSV or an S3 Inventory.

Manifests are streamed line by line (a gzipped inventory file is inflated as it streams), so a
manifest of any size costs one page of memory. The resume cursor is ``<file>:<byte offset>``
just past the last line of the last page enqueued: a plain CSV resumes with a ranged GET, a
gzipped one by inflating up to the offset. A line that names no usable key becomes a report
line (``rejected``), never a failed job.
"""

from __future__ import annotations

import csv
import json
import zlib
from collections.abc import AsyncIterator
from datetime import datetime
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ..errors import StorageJobsError
from ..storage import StorageClient
from ._fanout import Page, PageSource
from ._key_rules import ObjectKey
from ._prefix_models import Manifest, ObjectRef
from ._report import report_line

__all__ = ["ManifestError", "manifest_pages", "parse_line"]

_CSV_SCHEMA = ("Bucket", "Key", "VersionId")
_MAX_REJECTED_PER_PAGE = 1000
_MAX_LINE = 64 * 1024
_MAX_INVENTORY_JSON = 16 * 1024 * 1024
"""Bytes of an inventory's ``manifest.json`` read at most (one file entry is ~200 bytes)."""
# Inflated bytes per step: a chunk of highly compressible CSV never becomes one huge buffer.
_INFLATE_STEP = 256 * 1024
_key_adapter: TypeAdapter[str] = TypeAdapter(ObjectKey)


class ManifestError(StorageJobsError, ValueError):
    """A manifest that cannot be read at all (not one bad line: those are reported)."""


class _InventoryFile(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key: str


class _Inventory(BaseModel):
    """The fields of an S3 Inventory ``manifest.json`` that locate and describe its files."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    destination_bucket: str | None = Field(default=None, alias="destinationBucket")
    file_format: str = Field(alias="fileFormat")
    file_schema: str = Field(alias="fileSchema")
    files: list[_InventoryFile]


def parse_line(
    raw: bytes, schema: tuple[str, ...], src_bucket: str, src_prefix: str
) -> ObjectRef | str | None:
    """Parses one manifest line.

    Returns:
        The object it names; a reason string when it names no usable key; None for a line to
        pass over silently (blank, a delete marker, a non-current version of an inventory).
    """
    text = raw.rstrip(b"\r\n")
    if not text.strip():
        return None
    try:
        row = next(csv.reader([text.decode("utf-8")]))
    except (UnicodeDecodeError, csv.Error, StopIteration) as exc:
        return f"unparseable: {exc}"
    if len(row) < 2 or len(row) > len(schema):
        return f"unparseable: {len(row)} fields, expected 2..{len(schema)}"
    fields = dict(zip(schema, row, strict=False))
    if fields["Bucket"] != src_bucket:
        return f"bucket {fields['Bucket']!r} is not the source bucket {src_bucket!r}"
    key = unquote_plus(fields["Key"])
    try:
        _key_adapter.validate_python(key)
    except ValidationError as exc:
        return f"invalid key {key!r}: {exc.errors()[0]['msg']}"
    if not key.startswith(src_prefix):
        return f"key {key!r} is outside src_prefix {src_prefix!r}"
    if fields.get("IsDeleteMarker", "").lower() == "true":
        return None
    if fields.get("IsLatest", "true").lower() == "false":
        return None
    # A version id selects that version ("null", S3's id of an unversioned write: the key).
    version = fields.get("VersionId", "").strip()
    if len(version) > 1024 or any(not c.isprintable() for c in version):
        return f"unparseable: version id {version[:40]!r}"
    try:
        size = int(fields["Size"]) if fields.get("Size") else None
        modified = fields.get("LastModifiedDate")
        return ObjectRef(
            key=key,
            size=size,
            etag=fields.get("ETag", "").strip('"'),
            last_modified=datetime.fromisoformat(modified) if modified else None,
            storage_class=fields.get("StorageClass") or None,
            version_id=version if version and version != "null" else None,
        )
    except ValueError as exc:
        return f"unparseable: {exc}"


def manifest_pages(
    storage: StorageClient, manifest: Manifest, *, src_bucket: str, src_prefix: str, page_size: int
) -> PageSource:
    """The pages of a manifest, resumable at a ``<file>:<offset>`` cursor."""

    async def pages(cursor: str | None) -> AsyncIterator[Page]:
        files, schema = await _files(storage, manifest)
        first, offset = _parse_cursor(cursor)
        objects: list[ObjectRef] = []
        rejected: list[str] = []
        position = f"{first}:{offset}"
        for index in range(first, len(files)):
            bucket, key, gzipped = files[index]
            start = offset if index == first else 0
            async for raw, line_start, line_end in _lines(storage, bucket, key, gzipped, start):
                position = f"{index}:{line_end}"
                parsed = parse_line(raw, schema, src_bucket, src_prefix)
                if isinstance(parsed, ObjectRef):
                    objects.append(parsed)
                elif isinstance(parsed, str):
                    text = raw.rstrip(b"\r\n").decode("utf-8", "replace")[:200]
                    message = f"line at byte {line_start}: {parsed}: {text!r}"
                    rejected.append(
                        report_line(bucket, key, "rejected", "BadManifestLine", message)
                    )
                if len(objects) >= page_size or len(rejected) >= _MAX_REJECTED_PER_PAGE:
                    yield Page(objects=objects, cursor=position, rejected=rejected)
                    objects, rejected = [], []
        if objects or rejected:
            yield Page(objects=objects, cursor=position, rejected=rejected)

    return pages


def _parse_cursor(cursor: str | None) -> tuple[int, int]:
    if not cursor:
        return 0, 0
    index, _, offset = cursor.partition(":")
    return int(index), int(offset)


async def _files(
    storage: StorageClient, manifest: Manifest
) -> tuple[list[tuple[str, str, bool]], tuple[str, ...]]:
    """The files a manifest names (bucket, key, gzipped) and their column schema."""
    if manifest.format == "csv":
        return [(manifest.bucket, manifest.key, manifest.key.endswith(".gz"))], _CSV_SCHEMA
    raw = await _bounded_read(storage, manifest.bucket, manifest.key, _MAX_INVENTORY_JSON)
    try:
        inventory = _Inventory.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        where = f"{manifest.bucket}/{manifest.key}"
        raise ManifestError(f"{where}: not an inventory manifest: {exc}") from exc
    if inventory.file_format.upper() != "CSV":
        raise ManifestError(f"inventory format {inventory.file_format!r}: only CSV is supported")
    schema = tuple(name.strip() for name in inventory.file_schema.split(","))
    if schema[:2] != ("Bucket", "Key"):
        raise ManifestError(
            f"inventory schema {inventory.file_schema!r} does not start Bucket, Key"
        )
    # destinationBucket is an ARN (arn:aws:s3:::name); the files live there.
    bucket = (inventory.destination_bucket or manifest.bucket).rsplit(":", 1)[-1]
    return [(bucket, f.key, f.key.endswith(".gz")) for f in inventory.files], schema


async def _bounded_read(storage: StorageClient, bucket: str, key: str, limit: int) -> bytes:
    """An object's bytes, refused once over ``limit`` (the rest is never read).

    Raises:
        ManifestError: If the object is larger.
    """
    parts: list[bytes] = []
    size = 0
    async for chunk in storage.stream_object(bucket=bucket, key=key, chunk_size=64 * 1024):
        size += len(chunk)
        if size > limit:
            raise ManifestError(f"{bucket}/{key}: over {limit:,} bytes, too large for a manifest")
        parts.append(chunk)
    return b"".join(parts)


async def _lines(
    storage: StorageClient, bucket: str, key: str, gzipped: bool, start: int
) -> AsyncIterator[tuple[bytes, int, int]]:
    """Yields ``(line, start offset, end offset)`` from ``start`` (offsets in the inflated text)."""
    if gzipped:
        chunks = _inflate(storage.stream_object(bucket=bucket, key=key), f"{bucket}/{key}")
        skip = start
    else:
        if start > 0 and start >= int((await storage.head_object(bucket=bucket, key=key))["size"]):
            return
        chunks = storage.stream_object(bucket=bucket, key=key, offset=start)
        skip = 0
    position, buffer = start, b""
    async for chunk in chunks:
        if skip:
            dropped = min(skip, len(chunk))
            chunk, skip = chunk[dropped:], skip - dropped
        buffer += chunk
        begin = 0
        while (end := buffer.find(b"\n", begin)) >= 0:
            line = buffer[begin : end + 1]
            yield line, position, position + len(line)
            position += len(line)
            begin = end + 1
        buffer = buffer[begin:]
        if len(buffer) > _MAX_LINE:
            raise ManifestError(f"{bucket}/{key}: a line at byte {position} is over 64 KiB")
    if buffer:
        yield buffer, position, position + len(buffer)


async def _inflate(chunks: AsyncIterator[bytes], where: str) -> AsyncIterator[bytes]:
    """Inflates gzip, ``_INFLATE_STEP`` bytes at most at a time, member after member.

    A file of several members (``cat a.gz b.gz``) is valid gzip; stopping after the first would
    drop its other lines without a word.

    Raises:
        ManifestError: If the bytes are not gzip, or end inside a member (a truncated file's
            last lines would be lost without a word).
    """
    inflater = zlib.decompressobj(wbits=31)
    inside = False
    try:
        async for chunk in chunks:
            data = chunk
            while data:
                inside = True
                if out := inflater.decompress(data, _INFLATE_STEP):
                    yield out
                if inflater.eof:
                    data = inflater.unused_data
                    inflater, inside = zlib.decompressobj(wbits=31), False
                else:
                    data = inflater.unconsumed_tail
        while out := inflater.decompress(b"", _INFLATE_STEP):
            yield out
    except zlib.error as exc:
        raise ManifestError(f"{where}: not gzip: {exc}") from exc
    if inside and not inflater.eof:
        raise ManifestError(f"{where}: gzip data ends inside a member (truncated?)")
