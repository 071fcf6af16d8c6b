"""Multipart parts live in a few reused buffers, never changed while their request runs.

No more buffers than parts in flight; callers' own buffers are only read.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, cast

import pytest

from storage_jobs.storage import StorageClient, StorageConfig, StorageError
from storage_jobs.storage._config import MiB
from storage_jobs.storage._parts import PartBuffers, gather_parts, read_parts


def test_buffers_are_reused_and_never_exceed_the_limit() -> None:
    """A buffer given back is the next one taken; a third live buffer of two is refused."""
    pool = PartBuffers(size=4, limit=2)
    first, _second = pool.take(), pool.take()
    with pytest.raises(RuntimeError, match="all 2 part buffers"):
        pool.take()
    first.write(b"abcd")
    pool.give(first)
    assert pool.take() is first
    assert pool.created == 2


def test_a_dropped_or_shortened_buffer_frees_its_place_and_is_not_reused() -> None:
    """A failed request's buffer (reuse=False) and a short last part's are dropped, not reused."""
    pool = PartBuffers(size=4, limit=1)
    failed = pool.take()
    failed.write(b"abcd")
    pool.give(failed, reuse=False)
    short = pool.take()
    assert short is not failed
    short.write(b"ab")
    pool.give(short)
    assert pool.take() is not short
    assert pool.created == 1


async def _drain(parts: AsyncIterator[Any]) -> list[bytes]:
    out = []
    async for part in parts:
        with part.view() as view:
            out.append(bytes(view))
        part.release()
    return out


async def test_short_reads_still_make_whole_parts() -> None:
    """A raw file may return less than asked: parts are still whole, the last one short."""
    data = os.urandom(25)
    source = io.BytesIO(data)

    def trickle(view: memoryview) -> int:
        return source.readinto(view[:3])  # at most 3 bytes a call

    parts = await _drain(read_parts(trickle, PartBuffers(size=10, limit=1)))
    assert parts == [data[:10], data[10:20], data[20:]]


async def test_a_non_blocking_file_without_data_is_an_error_not_the_end() -> None:
    """readinto() giving None would otherwise end the object early, silently truncated."""
    with pytest.raises(BlockingIOError):
        await _drain(read_parts(lambda view: None, PartBuffers(size=10, limit=1)))


async def _chunks_of(data: bytes, sizes: tuple[int, ...]) -> AsyncIterator[bytes]:
    start = 0
    for size in sizes:
        yield data[start : start + size]
        start += size


async def test_stream_chunks_of_any_size_are_regrouped_into_whole_parts() -> None:
    """Chunks smaller and larger than a part are copied into whole parts, 1 buffer at a time."""
    data = os.urandom(47)
    chunks = _chunks_of(data, (3, 25, 1, 18))
    parts = await _drain(gather_parts(chunks, PartBuffers(size=10, limit=1)))
    assert parts == [data[:10], data[10:20], data[20:30], data[30:40], data[40:]]


@pytest.fixture
async def small_parts(moto_config: StorageConfig) -> AsyncIterator[StorageClient]:
    """A client with 5 MiB parts (the smallest S3 allows), two in flight."""
    config = moto_config.model_copy(
        update={
            "multipart_threshold": 5 * MiB,
            "multipart_chunksize": 5 * MiB,
            "multipart_concurrency": 2,
        }
    )
    async with StorageClient(config) as client:
        yield client


def _spy_on_parts(client: StorageClient, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records each part's body; fails if a body changes while its request runs."""
    real: Callable[..., Any] = client.s3.upload_part
    bodies: list[int] = []

    async def upload_part(**kwargs: Any) -> Any:
        body = kwargs["Body"]
        bodies.append(id(body))
        before = hashlib.sha256(body.getbuffer()).hexdigest()
        await asyncio.sleep(0.05)  # the reader runs ahead meanwhile
        answer = await real(**kwargs)
        assert hashlib.sha256(body.getbuffer()).hexdigest() == before, "overwritten in flight"
        return answer

    monkeypatch.setattr(client.s3, "upload_part", upload_part)
    return bodies


async def test_a_file_upload_reuses_as_many_buffers_as_parts_in_flight(
    small_parts: StorageClient, moto_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """7 parts, 2 in flight: 2 buffers take turns, none changes while sent; object intact."""
    src = tmp_path / "f.bin"
    data = os.urandom(33 * MiB)  # six whole 5 MiB parts and a 3 MiB one
    src.write_bytes(data)
    bodies = _spy_on_parts(small_parts, monkeypatch)
    info = await small_parts.upload_path(bucket=moto_bucket, key="f", path=src)
    assert info.size == len(data)
    assert len(bodies) == 7
    assert len(set(bodies)) == 2
    assert await small_parts.fetch_file(bucket=moto_bucket, key="f") == data


async def test_a_streams_parts_reuse_buffers_and_its_chunks_stay_untouched(
    small_parts: StorageClient, moto_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream's chunks (bytearrays, 3 MiB) are copied into 2 reused buffers, never changed."""
    chunks = [bytearray(os.urandom(3 * MiB)) for _ in range(6)]
    copies = [bytes(c) for c in chunks]

    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield cast("bytes", chunk)  # a bytearray, as a caller's stream may yield

    bodies = _spy_on_parts(small_parts, monkeypatch)
    await small_parts.upload_stream(bucket=moto_bucket, key="s", stream=stream())
    assert [bytes(c) for c in chunks] == copies
    assert len(bodies) == 4  # 18 MiB: three 5 MiB parts and a 3 MiB one
    assert len(set(bodies)) == 2
    assert await small_parts.fetch_file(bucket=moto_bucket, key="s") == b"".join(copies)


async def test_a_small_file_is_one_put_of_its_bytes(
    small_parts: StorageClient, moto_bucket: str, tmp_path: Path
) -> None:
    """Below the threshold the part buffer's bytes go out in one PutObject."""
    src = tmp_path / "small.bin"
    data = os.urandom(1000)
    src.write_bytes(data)
    info = await small_parts.upload_path(bucket=moto_bucket, key="small", path=src)
    assert not info.is_multipart
    assert await small_parts.fetch_file(bucket=moto_bucket, key="small") == data


async def test_a_failed_parts_buffer_is_dropped_not_reused(
    small_parts: StorageClient, moto_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed request's body may still be read by aiohttp: its buffer never takes a new part."""
    src = tmp_path / "f.bin"
    src.write_bytes(os.urandom(15 * MiB))
    real: Callable[..., Any] = small_parts.s3.upload_part
    given: list[tuple[io.BytesIO, bool]] = []
    original_give = PartBuffers.give

    def give(self: PartBuffers, body: io.BytesIO, *, reuse: bool = True) -> None:
        given.append((body, reuse))
        original_give(self, body, reuse=reuse)

    async def upload_part(**kwargs: Any) -> Any:
        if kwargs["PartNumber"] == 2:
            failed.append(kwargs["Body"])
            raise ConnectionResetError("reset mid-body")
        return await real(**kwargs)

    failed: list[io.BytesIO] = []
    monkeypatch.setattr(PartBuffers, "give", give)
    monkeypatch.setattr(small_parts.s3, "upload_part", upload_part)
    with pytest.raises(StorageError):
        await small_parts.upload_path(bucket=moto_bucket, key="f", path=src)
    assert [reuse for body, reuse in given if body is failed[0]] == [False]
