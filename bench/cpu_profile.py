"""``python -m bench.cpu_profile OUT -m MODULE ARGS...``: cProfile timed by CPU, not the wall.

``python -m cProfile`` times with the wall clock, so on a shared machine every moment the
process sits preempted is charged to whatever it was running (a socket ``send`` that wakes
SeaweedFS, say). Timing with ``time.process_time`` charges only this process's own CPU, which
is what "how much CPU per job goes where" asks. The profile is dumped on SIGTERM too.
"""

from __future__ import annotations

import cProfile
import runpy
import signal
import sys
import time
from types import FrameType


def main(argv: list[str]) -> None:
    """Runs ``-m MODULE ARGS...`` under the profiler and dumps it to ``OUT`` when it ends."""
    out, flag, module, *rest = argv
    if flag != "-m":
        raise SystemExit("usage: python -m bench.cpu_profile OUT -m MODULE [ARGS...]")
    profiler = cProfile.Profile(time.process_time)
    sys.argv = [module, *rest]

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.getsignal(signal.SIGTERM)
    if previous in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, stop)
    profiler.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        profiler.disable()
        profiler.dump_stats(out)


if __name__ == "__main__":
    main(sys.argv[1:])
