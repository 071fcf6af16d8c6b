"""Worker subprocesses for the tests (the implementation is shared with bench/ in devstack)."""

from storage_jobs.devstack.workers import WorkerProcess, cli_path

__all__ = ["WorkerProcess", "cli_path"]
