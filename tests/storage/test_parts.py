"""Multipart parts read from a file are sent from one buffer each; callers' buffers are kept."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from storage_jobs.storage import StorageClient, StorageConfig
from storage_jobs.storage import _multipart as multipart
from storage_jobs.storage._config import MiB
from storage_jobs.storage._multipart import OwnedPart


def test_an_owned_part_moves_into_its_body_and_bytes_stay() -> None:
    """An owned part becomes a BytesIO of its own and is emptied; plain bytes pass as they are."""
    part = OwnedPart(b"abc" * 1000)
    body = multipart._body(part)  # type: ignore[arg-type]  # a bytearray, as files yield
    assert isinstance(body, io.BytesIO)
    assert body.read() == b"abc" * 1000
    assert len(part) == 0  # its memory is freed now, not when the request ends
    data = b"xyz"
    assert multipart._body(data) is data


@pytest.fixture
async def small_parts(moto_config: StorageConfig) -> AsyncIterator[StorageClient]:
    """A client with 5 MiB parts (the smallest S3 allows)."""
    config = moto_config.model_copy(
        update={"multipart_threshold": 5 * MiB, "multipart_chunksize": 5 * MiB}
    )
    async with StorageClient(config) as client:
        yield client


async def test_file_parts_go_out_as_owned_buffers(
    small_parts: StorageClient, moto_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every part of a file upload is an owned buffer sent as a BytesIO; the object is intact."""
    src = tmp_path / "f.bin"
    data = os.urandom(11 * MiB)
    src.write_bytes(data)
    seen: list[tuple[str, str]] = []
    original = multipart._body

    def spy(part: Any) -> Any:
        body = original(part)
        seen.append((type(part).__name__, type(body).__name__))
        return body

    monkeypatch.setattr(multipart, "_body", spy)
    info = await small_parts.upload_path(bucket=moto_bucket, key="f", path=src)
    assert info.size == len(data)
    assert seen == [("OwnedPart", "BytesIO")] * 2 + [("bytes", "bytes")]  # the tail is regrouped
    assert await small_parts.fetch_file(bucket=moto_bucket, key="f") == data


async def test_a_callers_bytearrays_are_never_emptied(
    small_parts: StorageClient, moto_bucket: str
) -> None:
    """A stream's own part-sized bytearrays are sent as they are and left untouched."""
    chunks = [bytearray(os.urandom(5 * MiB)) for _ in range(2)]
    copies = [bytes(c) for c in chunks]

    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield cast("bytes", chunk)  # a bytearray, as a caller's stream may yield

    await small_parts.upload_stream(bucket=moto_bucket, key="s", stream=stream())
    assert [bytes(c) for c in chunks] == copies
    assert await small_parts.fetch_file(bucket=moto_bucket, key="s") == b"".join(copies)
