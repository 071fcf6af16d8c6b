"""Runs scenarios: set up once, then ``runs`` runs with ours and the baseline side by side."""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .model import Sample, summarize_row
from .scenarios import Context, Scenario, all_scenarios
from .sizes import Sizes
from .stack import Stack

__all__ = ["run_all"]


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def run_scenario(scenario: Scenario, ctx: Context, runs: int) -> dict[str, Any]:
    """One scenario's JSON record: status, duration, and a summary per row."""
    started = time.monotonic()
    reason = scenario.unavailable()
    if reason is not None:
        _log(f"{scenario.name}: skipped ({reason})")
        return {"status": f"skipped: {reason}", "duration_s": 0.0, "rows": {}}
    samples: dict[str, list[Sample]] = {row.key: [] for row in scenario.rows}
    try:
        _log(f"{scenario.name}: setup")
        await scenario.setup(ctx)
        for run in range(runs):
            _log(f"{scenario.name}: run {run + 1}/{runs}")
            got = await scenario.run_once(ctx, run)
            for key, sample in got.items():
                samples[key].append(sample)
                _log(
                    f"  {key}: ours {sample.ours:.4g}  baseline {sample.baseline:.4g}  "
                    f"ratio {sample.ratio:.3g}  {sample.extra or ''}"
                )
    except Exception as exc:
        _log(f"{scenario.name}: FAILED\n{traceback.format_exc()}")
        return {
            "status": f"error: {type(exc).__name__}: {exc}"[:2000],
            "duration_s": round(time.monotonic() - started, 1),
            "rows": {},
        }
    finally:
        try:
            await scenario.teardown(ctx)
        except Exception:
            _log(f"{scenario.name}: teardown failed\n{traceback.format_exc()}")
    return {
        "status": "ok",
        "duration_s": round(time.monotonic() - started, 1),
        "rows": {row.key: summarize_row(row, samples[row.key]) for row in scenario.rows},
    }


async def _run(
    sizes: Sizes, runs: int, only: list[str] | None, workdir: Path, profile: bool
) -> dict[str, Any]:
    stack = Stack(workdir, profile_dir=workdir / "profiles" if profile else None)
    _log(f"starting SeaweedFS in {workdir}")
    await asyncio.to_thread(stack.start)
    ctx = Context(stack=stack, sizes=sizes, workdir=workdir)
    results: dict[str, Any] = {}
    try:
        for scenario in all_scenarios(only):
            results[scenario.name] = await run_scenario(scenario, ctx, runs)
            stack.flush_redis()
    finally:
        await asyncio.to_thread(stack.stop)
    return results


def run_all(
    sizes: Sizes,
    runs: int,
    only: list[str] | None = None,
    *,
    profile_dir: Path | None = None,
    keep_workdir: bool = False,
) -> dict[str, Any]:
    """Runs the scenarios and returns the whole results document."""
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="storage-jobs-bench-"))
    try:
        scenarios = asyncio.run(_run(sizes, runs, only, workdir, profile_dir is not None))
        if profile_dir is not None:
            from .profiling import summarize_profiles

            summarize_profiles(workdir / "profiles", profile_dir)
    finally:
        if keep_workdir:
            _log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": sizes.name,
        "runs": runs,
        "duration_s": round(time.monotonic() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "sizes": sizes.as_dict(),
        "scenarios": scenarios,
    }
