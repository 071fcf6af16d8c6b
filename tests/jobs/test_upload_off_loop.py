"""A path upload reads and hashes its file in worker threads: the event loop keeps running.

Each file read and each hash step below waits, in the thread that runs it, until a task of the
event loop has counted two more ticks. Run in the loop itself, the step would hold the loop
and the count could not move (the step gives up after a few seconds and says so), as a large
file's hashing used to stall the worker's lease renewals and heartbeats.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storage_jobs.jobs import JobLimits, UploadJob, _upload
from storage_jobs.jobs._content_match import CHECKSUM_METADATA
from storage_jobs.jobs._upload import run_upload
from storage_jobs.storage import StorageClient, StorageConfig
from storage_jobs.storage._checksums import Hasher
from tests.jobs.conftest import RecordingLog, make_ctx


class Ticks:
    """A count the event loop advances; a step run elsewhere waits for it to move."""

    def __init__(self) -> None:
        self.count = 0
        self.steps: list[tuple[str, bool]] = []

    async def run(self) -> None:
        while True:
            self.count += 1
            await asyncio.sleep(0)

    def wrap(self, name: str, step: Callable[..., Any]) -> Callable[..., Any]:
        def waiting(*args: Any, **kwargs: Any) -> Any:
            start, give_up = self.count, time.monotonic() + 3
            while self.count < start + 2 and time.monotonic() < give_up:
                time.sleep(0.001)  # the GIL goes to the loop, if the loop is free to run
            in_loop = threading.current_thread() is threading.main_thread()
            self.steps.append((name, self.count >= start + 2 and not in_loop))
            return step(*args, **kwargs)

        return waiting


async def test_a_path_upload_reads_and_hashes_off_the_event_loop(
    moto_client: StorageClient,
    moto_bucket: str,
    recording_log: RecordingLog,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path.resolve()
    data = bytes(range(256)) * (4 * 4096)  # 4 MiB: four reads, four hash steps, one PUT
    (root / "big.bin").write_bytes(data)
    ticks = Ticks()
    monkeypatch.setattr(_upload, "_read_chunk", ticks.wrap("read", _upload._read_chunk))
    monkeypatch.setattr(Hasher, "update", ticks.wrap("hash", Hasher.update))
    ticker = asyncio.create_task(ticks.run())
    try:
        ctx = make_ctx(moto_client, None, recording_log, limits=JobLimits(upload_roots=(root,)))
        job = UploadJob(
            bucket=moto_bucket, key="big", path=str(root / "big.bin"), checksum="sha256"
        )
        result = await run_upload(job, ctx)
    finally:
        ticker.cancel()
    assert result.size == len(data)
    names = [name for name, _ in ticks.steps]
    assert names.count("read") >= 4 and names.count("hash") >= 4
    assert [step for step in ticks.steps if not step[1]] == []  # every one ran off the loop
    head = await moto_client.head_object(bucket=moto_bucket, key="big")
    stored = head["metadata"][CHECKSUM_METADATA["sha256"]]
    assert stored == hashlib.sha256(data).hexdigest()


async def test_a_multipart_upload_hashes_its_parts_off_the_event_loop(
    moto_config: StorageConfig,
    moto_bucket: str,
    recording_log: RecordingLog,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each part's CRC32C and the whole object's are computed in worker threads."""
    mib = 1024 * 1024
    config = moto_config.model_copy(
        update={"multipart_threshold": 5 * mib, "multipart_chunksize": 5 * mib}
    )
    root = tmp_path.resolve()
    data = bytes(range(256)) * (11 * 4096)  # 11 MiB: three parts
    (root / "big.bin").write_bytes(data)
    ticks = Ticks()
    monkeypatch.setattr(Hasher, "update", ticks.wrap("hash", Hasher.update))
    ticker = asyncio.create_task(ticks.run())
    try:
        async with StorageClient(config) as storage:
            ctx = make_ctx(storage, None, recording_log, limits=JobLimits(upload_roots=(root,)))
            path = str(root / "big.bin")
            job = UploadJob(bucket=moto_bucket, key="big", path=path, checksum="crc32c")
            result = await run_upload(job, ctx)
    finally:
        ticker.cancel()
    assert result.size == len(data)
    # The file's own hash (11 reads), then per part its hash and the whole object's update.
    assert len(ticks.steps) >= 11 + 2 * 3
    assert [step for step in ticks.steps if not step[1]] == []
