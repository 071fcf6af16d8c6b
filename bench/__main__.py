"""``python -m bench``: run the benchmarks and write results.json, README.md's table, a chart."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from .report import merge_results, write_reports
from .runner import run_all
from .scenarios import SCENARIOS
from .sizes import sizes_for

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    """Parses arguments, runs, writes the reports; exit code 1 if a scenario errored."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--size", choices=["smoke", "full"], default="full")
    parser.add_argument("--runs", type=int, help="runs per scenario (3 for full, 1 for smoke)")
    parser.add_argument("--only", nargs="+", choices=list(SCENARIOS), metavar="SCENARIO")
    parser.add_argument(
        "--out", type=Path, help="output directory (bench/ for full, a temp dir for smoke)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run workers under cProfile; write profile-<scenario>.txt into the output directory",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override one size, e.g. --set uploads=2000 (see bench/sizes.py)",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other scenarios of an existing results.json in --out (re-run some only)",
    )
    parser.add_argument(
        "--keep-workdir", action="store_true", help="keep the temp dir (worker logs, SeaweedFS)"
    )
    args = parser.parse_args(argv)
    sizes = sizes_for(args.size)
    for item in args.set:
        field, _, value = item.partition("=")
        current = getattr(sizes, field, None)
        if current is None or field == "name":
            parser.error(f"--set: no size called {field!r}")
        sizes = replace(sizes, **{field: type(current)(value)})
    runs = args.runs or (3 if args.size == "full" else 1)
    out: Path = args.out or (
        HERE if args.size == "full" else Path(tempfile.mkdtemp(prefix="bench-smoke-"))
    )
    started = time.monotonic()
    results = run_all(
        sizes,
        runs,
        args.only,
        profile_dir=out if args.profile else None,
        keep_workdir=args.keep_workdir,
    )
    if args.merge and (out / "results.json").exists():
        results = merge_results(json.loads((out / "results.json").read_text()), results)
    paths = write_reports(results, out)
    print(
        f"wrote {', '.join(str(p) for p in paths.values())} in {time.monotonic() - started:.0f} s"
    )
    failed = [n for n, s in results["scenarios"].items() if s["status"].startswith("error")]
    if failed:
        print(f"scenarios that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
