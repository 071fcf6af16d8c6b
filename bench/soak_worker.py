"""``python -m bench.soak_worker``: ``storage-jobs worker`` that also writes its memory figures.

RSS alone cannot tell a leak from the allocator holding on to memory. Every
``SOAK_STATS_EVERY`` seconds (default 10) a thread appends one JSON line to ``SOAK_STATS_PATH``:
seconds since start, RSS, Python's allocated blocks (``sys.getallocatedblocks``), gc-tracked
objects, and glibc malloc's bytes in use and free (``mallinfo2``; absent elsewhere). Objects
kept per job grow the first two; a flat heap under a rising RSS is the allocator (pymalloc's
arenas, pages touched for the first time, fragmentation). ``bench.soak --memory-stats`` runs
its workers this way.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from storage_jobs.cli._main import main as cli_main

__all__ = ["main", "memory_record"]


_MALLINFO_FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO_FIELDS.split()]


def _mallinfo2() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")
        function = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    function.restype = _MallInfo2
    return function


_MALLINFO2 = _mallinfo2()


def memory_record(t: float) -> dict[str, Any]:
    """One line of figures, ``t`` seconds after the worker started."""
    status = {
        line.split(":")[0]: int(line.split()[1])
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith(("VmRSS:", "RssAnon:"))
    }
    record: dict[str, Any] = {
        "t": round(t, 1),
        "rss": status["VmRSS"] * 1024,
        "rss_anon": status.get("RssAnon", 0) * 1024,
        "py_blocks": sys.getallocatedblocks(),
        "gc_objects": len(gc.get_objects()),
    }
    if _MALLINFO2 is not None:
        info = _MALLINFO2()
        record |= {"malloc_in_use": info.uordblks + info.hblkhd, "malloc_free": info.fordblks}
    return record


def _sample(path: Path, every: float) -> None:
    started = time.monotonic()
    with path.open("a") as out:
        while True:
            time.sleep(every)
            out.write(json.dumps(memory_record(time.monotonic() - started)) + "\n")
            out.flush()


def main() -> None:
    """Starts the sampling thread, then runs ``storage-jobs worker``."""
    path = Path(os.environ["SOAK_STATS_PATH"])
    every = float(os.environ.get("SOAK_STATS_EVERY", "10"))
    threading.Thread(target=_sample, args=(path, every), daemon=True).start()
    sys.argv = ["storage-jobs", "worker"]
    cli_main()


if __name__ == "__main__":
    main()
