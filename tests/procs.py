"""Looking at processes and ports through /proc (Linux), for tests of what outlives what."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "alive",
    "cmdline",
    "descendants",
    "kill_all",
    "listening_ports",
    "port_is_free",
    "remove_weed_litter",
    "wait_gone",
]


def _stat_fields(pid: int) -> list[str]:
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(pid: int) -> set[int]:
    """Every live process whose parent chain leads to ``pid``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
            except (OSError, IndexError, ValueError):
                continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        return _stat_fields(pid)[0] != "Z"
    except (OSError, IndexError):
        return False


def cmdline(pid: int) -> str:
    """The command line of a process, space-separated ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def listening_ports(pids: Iterable[int]) -> set[int]:
    """TCP ports on which any of ``pids`` holds a listening socket."""
    inodes: set[str] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        inodes.add(target[len("socket:[") : -1])
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing listens on ``host:port``: it can be bound (TIME_WAIT aside) and refuses."""
    with socket.socket() as probe:
        probe.settimeout(1)
        if probe.connect_ex((host, port)) != errno.ECONNREFUSED:
            return False
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen()
        except OSError:
            return False
    return True


def wait_gone(pids: Iterable[int], timeout: float) -> tuple[float, list[int]]:
    """Waits until none of ``pids`` is alive; returns the seconds it took and who is left."""
    pids = list(pids)
    started = time.monotonic()
    while True:
        left = [pid for pid in pids if alive(pid)]
        if not left or time.monotonic() - started > timeout:
            return time.monotonic() - started, left
        time.sleep(0.05)


def kill_all(pids: Iterable[int]) -> None:
    """SIGKILL whatever of ``pids`` is still alive (cleanup after a failed test)."""
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def remove_weed_litter(argv: list[str]) -> None:
    """Removes what a SIGKILLed weed (``argv``: its command line) leaves in /tmp: sockets."""
    for arg in argv:
        name, _, value = arg.partition("=")
        if name == "-filer.localSocket":
            shutil.rmtree(Path(value).parent, ignore_errors=True)
        if name.endswith(".port.grpc"):
            kind = name.removeprefix("-").split(".")[0]
            sock = Path(f"/tmp/seaweedfs-{kind}-grpc-{value}.sock")
            if sock.exists() and not _unix_socket_answers(sock):  # the port may be reused
                sock.unlink(missing_ok=True)


def _unix_socket_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True
