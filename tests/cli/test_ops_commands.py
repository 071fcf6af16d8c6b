"""Operations commands run as a user would: CLI subprocesses on real Redis, SeaweedFS, workers."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import pickle
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.jobs import CopyJob, DeleteJob, UploadJob
from storage_jobs.queue import DeadLetterStore
from storage_jobs.storage import StorageClient
from tests.workers import StartInProcess, StartWorker, cli_path

pytestmark = pytest.mark.integration


@dataclass
class Run:
    """One finished CLI run."""

    code: int
    out: str
    err: str

    @property
    def data(self) -> Any:
        """Stdout parsed as JSON."""
        return json.loads(self.out)


@pytest.fixture
def cli_env(worker_env: dict[str, str]) -> dict[str, str]:
    """The environment of a CLI run: this test's queue, Redis database and SeaweedFS."""
    return {**os.environ, **worker_env, "COLUMNS": "200"}


async def run_cli(env: dict[str, str], *args: str, stdin: bytes | None = None) -> Run:
    """Runs ``storage-jobs ARGS`` and collects its exit code and output."""
    proc = await asyncio.create_subprocess_exec(
        cli_path(),
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


async def _write_raw_job(jobs: StorageJobsClient, job_id: str, raw: bytes) -> None:
    await jobs.redis.psetex(jobs.keys.job(job_id), 60_000, raw)
    await jobs.redis.zadd(jobs.queue_name, {job_id: int(time.time() * 1000)})
    await jobs.redis.lpush(jobs.keys.wake, "1")  # type: ignore[misc]


async def test_enqueue_upload_copy_delete_and_wait(
    start_in_process: StartInProcess,
    cli_env: dict[str, str],
    admin_storage: StorageClient,
    bucket: str,
    tmp_path: Path,
) -> None:
    """Enqueue upload (data and file), copy and delete with --wait print typed results."""
    root = tmp_path / "uploads"
    root.mkdir()
    (root / "f.txt").write_bytes(b"from a file")
    env = {**cli_env, "STORAGE_JOBS_UPLOAD_ROOTS": str(root)}
    await start_in_process(STORAGE_JOBS_UPLOAD_ROOTS=str(root))
    cli = functools.partial(run_cli, env)
    file_id = f"{bucket}-from-file"  # job ids are global to the Redis database

    inline, from_file, human = await asyncio.gather(
        cli("enqueue", "upload", bucket, "a.txt", "--data", "hello", "--wait", "30", "--json"),
        cli("enqueue", "upload", bucket, "f.txt", "--file", str(root / "f.txt"), "--wait", "30",
            "--content-type", "text/plain", "--job-id", file_id, "--json"),
        cli("enqueue", "upload", bucket, "c.txt", "--data", "hi", "--wait", "30"),
    )  # fmt: skip
    assert inline.code == 0, inline.err
    assert inline.data["enqueued"] is True and inline.data["status"] == "complete"
    assert inline.data["result"] == {
        "kind": "upload",
        "bucket": bucket,
        "key": "a.txt",
        "size": 5,
        "etag": "5d41402abc4b2a76b9719d911017c592",
    }
    assert from_file.code == 0, from_file.err
    assert from_file.data["job_id"] == file_id
    assert from_file.data["result"]["size"] == len(b"from a file")
    # Human output: the job id alone on the first line, then the result table.
    assert human.code == 0, human.err
    job_id = human.out.splitlines()[0]
    assert len(job_id) == 32 and "complete" in human.out and "etag" in human.out

    copy, again, status = await asyncio.gather(
        cli("enqueue", "copy", bucket, "a.txt", "b.txt", "--dst-bucket", bucket, "--wait", "30",
            "--json"),
        cli("enqueue", "upload", bucket, "f.txt", "--data", "x", "--job-id", file_id,
            "--json"),
        cli("status", job_id, "--json"),
    )  # fmt: skip
    assert copy.code == 0, copy.err
    assert copy.data["result"]["dst_key"] == "b.txt" and copy.data["result"]["skipped"] is False
    assert again.code == 0 and again.data == {"job_id": file_id, "enqueued": False}
    assert status.code == 0 and status.data == {"job_id": job_id, "status": "complete"}

    skipped, delete = await asyncio.gather(
        cli("enqueue", "copy", bucket, "a.txt", "b.txt", "--skip-if-identical", "--wait", "30",
            "--json"),
        cli("enqueue", "delete", bucket, "c.txt", "--keys-from", "-", "--wait", "30", "--json",
            stdin=b"f.txt\n\nnever-existed\n"),
    )  # fmt: skip
    assert skipped.code == 0 and skipped.data["result"]["skipped"] is True
    assert delete.code == 0, delete.err
    assert delete.data["result"]["deleted_count"] == 3
    assert delete.data["result"]["failed"] == []
    assert sorted(await admin_storage.list_files(bucket=bucket)) == ["a.txt", "b.txt"]


async def test_bad_input_exits_2_and_enqueues_nothing(
    cli_env: dict[str, str], jobs: StorageJobsClient, tmp_path: Path
) -> None:
    """Invalid names, missing keys, files outside the upload roots, limits: exit 2, no job."""
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    env = {
        **cli_env,
        "STORAGE_JOBS_UPLOAD_ROOTS": str(tmp_path / "root"),
        "STORAGE_JOBS_MAX_INLINE_BYTES": "2",
    }
    runs = await asyncio.gather(
        run_cli(env, "enqueue", "upload", "Bad_Bucket", "k", "--data", "x"),
        run_cli(env, "enqueue", "upload", "b-1", "k", "--file", str(outside)),
        run_cli(env, "enqueue", "upload", "b-1", "k", "--data", "too long"),
        run_cli(env, "enqueue", "delete", "b-1"),
    )
    for run in runs:
        assert run.code == 2, run
        assert run.out == ""
        assert "Error:" in run.err and "Traceback" not in run.err
    assert "bucket" in runs[0].err
    assert "outside the configured upload roots" in runs[1].err
    assert "STORAGE_JOBS_MAX_INLINE_BYTES" in runs[2].err
    assert "no keys to delete" in runs[3].err
    assert await jobs.redis.zcard(jobs.queue_name) == 0


async def test_failed_job_result_and_dead_letter_replay(
    start_in_process: StartInProcess,
    cli_env: dict[str, str],
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
) -> None:
    """A copy of a missing key fails (exit 1), is dead-lettered, and replays once the key exists."""
    await start_in_process()
    cli = functools.partial(run_cli, cli_env)
    job_id = f"{bucket}-copy"  # job ids are global to the Redis database
    failed = await cli(
        "enqueue", "copy", bucket, "missing", "dst", "--job-id", job_id, "--wait", "30", "--json"
    )
    assert failed.code == 1, failed.err
    assert failed.data["status"] == "failed"
    assert failed.data["error"]["code"] == "NoSuchKey"

    status, human, unknown_status, unknown_result, listed, shown = await asyncio.gather(
        cli("status", job_id, "--json"),
        cli("result", job_id),
        cli("status", "no-such-job", "--json"),
        cli("result", "no-such-job", "--wait", "0.5", "--json"),
        cli("dead-letters", "list", "--json"),
        cli("dead-letters", "show", job_id, "--json"),
    )
    assert status.code == 0 and status.data["status"] == "failed"
    assert human.code == 1 and "failed" in human.out and "NoSuchKey" in human.out
    assert unknown_status.code == 0 and unknown_status.data["status"] == "not_found"
    assert unknown_result.code == 3 and unknown_result.data["status"] == "not_found"
    assert listed.code == 0 and listed.data["count"] == 1
    (letter,) = listed.data["dead_letters"]
    assert letter["job_id"] == job_id and letter["code"] == "NoSuchKey"
    assert "payload" not in letter
    assert shown.code == 0
    assert json.loads(shown.data["payload"])["src_key"] == "missing"

    await admin_storage.upload_file(bucket=bucket, key="missing", data=b"here now")
    replay = await cli("dead-letters", "replay", job_id, "--json")
    assert replay.code == 0, replay.err
    assert replay.data == {"replayed": [job_id], "refused": []}
    done = await cli("result", job_id, "--wait", "30", "--json")
    assert done.code == 0, done.out + done.err
    assert done.data["result"]["dst_key"] == "dst"
    assert await admin_storage.fetch_file(bucket=bucket, key="dst") == b"here now"
    assert await DeadLetterStore(jobs.redis, jobs.queue_name).count() == 0


async def test_pickle_dead_letter_is_refused_for_replay_and_dropped(
    start_in_process: StartInProcess, cli_env: dict[str, str], jobs: StorageJobsClient
) -> None:
    """A pickle payload stays a dead letter on replay (exit 1) until it is dropped."""
    await start_in_process()
    evil = pickle.dumps({"t": 1, "f": "storage_jobs.delete", "a": ["x"], "k": {}, "et": 0})
    evil_id = f"{jobs.queue_name}-evil"  # job ids are global to the Redis database
    await _write_raw_job(jobs, evil_id, evil)
    store = DeadLetterStore(jobs.redis, jobs.queue_name)
    deadline = time.monotonic() + 20
    while await store.get(evil_id) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert await store.get(evil_id) is not None

    replay = await run_cli(cli_env, "dead-letters", "replay", "--all", "--json")
    assert replay.code == 1
    assert replay.data["replayed"] == []
    (refused,) = replay.data["refused"]
    assert refused["job_id"] == evil_id and refused["reason"] == "invalid_payload"
    assert "not a JSON object" in refused["detail"]
    assert (await store.get(evil_id)) is not None
    assert await jobs.redis.zcard(jobs.queue_name) == 0
    assert not await jobs.redis.exists(jobs.keys.job(evil_id))

    drop = await run_cli(cli_env, "dead-letters", "drop", "--all", "--json")
    assert drop.code == 0 and drop.data == {"dropped": [evil_id], "not_found": []}
    again = await run_cli(cli_env, "dead-letters", "drop", evil_id)
    assert again.code == 3 and f"no dead letter for {evil_id}" in again.out


async def test_queue_stats_without_a_worker(
    cli_env: dict[str, str], jobs: StorageJobsClient
) -> None:
    """Ready, deferred and running jobs, kinds (sampled when asked) and no live workers."""
    ready = await jobs.enqueue_many(
        [UploadJob(bucket="b-1", key=f"k{i}", data=b"x") for i in range(3)]
        + [DeleteJob(bucket="b-1", keys=["a", "b"])]
    )
    await jobs.enqueue(CopyJob(src_bucket="b-1", src_key="a", dst_key="b"), defer_by=600)
    await jobs.enqueue(CopyJob(src_bucket="b-1", src_key="a", dst_key="c"), defer_by=600)
    await _write_raw_job(jobs, f"{jobs.queue_name}-pickled", pickle.dumps({"f": "x"}))
    await jobs.redis.set(jobs.keys.in_progress(ready[0].job_id), b"1", px=60_000)
    await jobs.redis.hset(
        jobs.keys.dead_data,
        "old",
        '{"job_id":"old","error_type":"JobFailed","failed_at":1}',
    )  # type: ignore[misc]
    await jobs.redis.zadd(jobs.keys.dead_index, {"old": 1})
    await asyncio.sleep(0.2)

    full, sampled = await asyncio.gather(
        run_cli(cli_env, "queue", "--json"), run_cli(cli_env, "queue", "--sample", "2")
    )
    assert full.code == 0, full.err
    data = full.data
    assert (data["depth"], data["in_progress"], data["deferred"], data["total"]) == (4, 1, 2, 7)
    assert data["kinds"] == {
        "storage_jobs.upload": 3,
        "storage_jobs.copy": 2,
        "storage_jobs.delete": 1,
        "<unreadable>": 1,
    }
    assert data["kinds_sampled"] is False and data["kinds_sample_size"] == 7
    assert data["oldest_age"] >= 0.2
    assert data["dead_letters"] == 1
    assert data["workers"] == []
    assert sampled.code == 0 and "random sample of 2" in sampled.out and "depth" in sampled.out


async def test_queue_workers_and_health(start_worker: StartWorker, cli_env: dict[str, str]) -> None:
    """Live workers are listed; health exits 0 with one running and 1 once it stopped."""
    worker = start_worker()
    queue = await run_cli(cli_env, "queue", "--json")
    assert queue.code == 0, queue.err
    (live,) = queue.data["workers"]
    assert live["pid"] == worker.pid and live["host"] == socket.gethostname()
    assert live["max_jobs"] == 16 and live["jobs_ongoing"] == 0

    checks = await asyncio.gather(
        run_cli(cli_env, "health"),
        run_cli(cli_env, "health", "--local", "--json"),
        run_cli(cli_env, "health", "--worker-id", live["worker_id"]),
        run_cli(cli_env, "health", "--worker-id", "someone-else"),
    )
    assert [c.code for c in checks] == [0, 0, 0, 1]
    assert checks[0].out.startswith("ok: 1 live worker")
    assert checks[1].data["healthy"] is True
    assert checks[1].data["workers"][0]["worker_id"] == live["worker_id"]
    assert "someone-else has no heartbeat" in checks[3].out

    assert worker.stop() == 0
    down = await run_cli(cli_env, "health", "--max-age", "60", "--json")
    assert down.code == 1
    assert down.data["healthy"] is False and "no worker heartbeat" in down.data["reason"]
