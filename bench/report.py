"""Writes results.json, the markdown table (between markers in README.md) and a PNG chart."""

from __future__ import annotations

import json
import math
import struct
import zlib
from pathlib import Path
from typing import Any

__all__ = ["END", "START", "markdown_table", "write_chart", "write_reports"]

START = "<!-- bench-results:start -->"
END = "<!-- bench-results:end -->"
CHART = "results.png"


def _num(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _trio(stats: dict[str, Any]) -> str:
    return f"{_num(stats['min'])} / **{_num(stats['median'])}** / {_num(stats['max'])}"


def _check_text(check: dict[str, Any], row: dict[str, Any]) -> str:
    field = check["field"]
    stats = row["ratio"] if field == "ratio" else row.get(field) or row["extra"].get(field)
    got = ""
    if stats:
        got = f" (got {_num(stats['median'])})" if check["op"] != "==" else ""
        if check["op"] == "==":
            got = f" (got {', '.join(_num(v) for v in stats['runs'])})"
    mark = "met" if check["met"] else "**missed**"
    return f"{check['text']}{got}: {mark}"


def _stamp(scenario: dict[str, Any], results: dict[str, Any]) -> str:
    return str(scenario.get("generated_at", results["generated_at"]))


def _ran_text(scenario: dict[str, Any], results: dict[str, Any]) -> str:
    """When a scenario ran, with its size and runs where they differ from the document's."""
    stamp = _stamp(scenario, results).replace("T", " ").replace("+00:00", " UTC")
    notes = []
    if scenario.get("runs", results["runs"]) != results["runs"]:
        notes.append(f"{scenario['runs']} run(s)")
    sizes = scenario.get("sizes", results["sizes"])
    for name, value in sizes.items():
        if name != "name" and results["sizes"].get(name) != value:
            notes.append(f"{name}={value:,}" if isinstance(value, int) else f"{name}={value}")
    return stamp + (f"<br><sub>{', '.join(notes)}</sub>" if notes else "")


def markdown_table(results: dict[str, Any]) -> str:
    """The results as a markdown table (every figure min / **median** / max over the runs).

    A document merged from several runs (``--merge``) gets a ``ran`` column: when each
    scenario ran, and its sizes where they differ from the header's.
    """
    scenarios = results["scenarios"].values()
    merged = len({_stamp(s, results) for s in scenarios}) > 1 or any(
        _ran_text(s, results) != _ran_text({}, results) for s in scenarios
    )
    if merged:
        when = (
            "scenarios ran at different times (the `ran` column; sizes there where they differ), "
            f"results merged {results['generated_at']}"
        )
    else:
        when = f"generated {results['generated_at']} in {results['duration_s']:.0f} s"
    lines = [
        f"Size `{results['size']}`, {results['runs']} run(s) per scenario, "
        f"{results['machine']['cpus']} CPUs, {when}. Each cell: min / **median** / max over the "
        "runs; the ratio is ours / baseline, taken per run (both sides ran back to back in that "
        "run).",
        "",
        "| scenario | unit | ours | baseline | ratio | target | met |"
        + (" ran |" if merged else ""),
        "|---|---|---|---|---|---|---|" + ("---|" if merged else ""),
    ]
    for scenario in scenarios:
        ran = f" {_ran_text(scenario, results)} |" if merged else ""
        if scenario["status"] != "ok":
            name = next(k for k, v in results["scenarios"].items() if v is scenario)
            lines.append(f"| {name} | | | | | {scenario['status']} | n/a |{ran}")
            continue
        for row in scenario["rows"].values():
            checks = "; ".join(_check_text(c, row) for c in row["checks"])
            lines.append(
                f"| {row['title']} | {row['unit']} "
                f"| {_trio(row['ours'])}<br><sub>{row['ours_label']}</sub> "
                f"| {_trio(row['baseline'])}<br><sub>{row['baseline_label']}</sub> "
                f"| {_trio(row['ratio'])}x | {checks} | {'yes' if row['met'] else '**no**'} |{ran}"
            )
    lines += ["", f"![ratios against targets]({CHART})"]
    return "\n".join(lines)


def _update_readme(path: Path, table: str) -> None:
    block = f"{START}\n{table}\n{END}"
    if path.exists():
        text = path.read_text()
        if START in text and END in text:
            head, rest = text.split(START, 1)
            _, tail = rest.split(END, 1)
            path.write_text(head + block + tail)
            return
        path.write_text(text.rstrip() + "\n\n" + block + "\n")
        return
    path.write_text(f"# storage-jobs benchmark results\n\n{block}\n")


def _chart_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per (row, check) that can be drawn: score >= 1 means the target is met."""
    out = []
    for scenario in results["scenarios"].values():
        for row in scenario.get("rows", {}).values():
            for check in row["checks"]:
                if check["op"] == "==":
                    continue
                field = check["field"]
                if field == "ratio":
                    kind, stats, base = "ratio", row["ratio"], None
                elif field == "ours":
                    kind, stats, base = "limit", row["ours"], row["baseline"]
                else:
                    continue
                out.append(
                    {
                        "label": row["title"],
                        "kind": kind,
                        "bound": check["bound"],
                        "stats": stats,
                        "baseline": base,
                        "unit": row["unit"],
                        "met": check["met"],
                    }
                )
    return out


def write_chart(results: dict[str, Any], path: Path) -> str:
    """Draws the chart with matplotlib, or a plain bar image if matplotlib is missing."""
    rows = _chart_rows(results)
    try:
        import matplotlib  # type: ignore[import-not-found, unused-ignore]

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        _plain_chart(rows, path)
        return "plain (matplotlib not installed)"
    ratios = [r for r in rows if r["kind"] == "ratio"]
    limits = [r for r in rows if r["kind"] == "limit"]
    fig, (ax, ax2) = plt.subplots(
        2,
        1,
        figsize=(12, 0.45 * (len(ratios) + len(limits)) + 3.5),
        height_ratios=[max(len(ratios), 1), max(len(limits), 1)],
    )
    for i, r in enumerate(ratios):
        s = r["stats"]
        color = "tab:green" if r["met"] else "tab:red"
        ax.barh(i, s["median"], color=color, alpha=0.8)
        ax.errorbar(
            s["median"],
            i,
            xerr=[[s["median"] - s["min"]], [s["max"] - s["median"]]],
            color="black",
            capsize=4,
        )
        ax.plot([r["bound"]] * 2, [i - 0.45, i + 0.45], color="black", linestyle="--")
        ax.text(
            max(s["max"], r["bound"]) * 1.15,
            i,
            f"{s['median']:.2f}x (target {r['bound']:g}x)",
            va="center",
        )
    ax.set_yticks(range(len(ratios)), [r["label"] for r in ratios])
    ax.invert_yaxis()
    ax.set_xscale("log")
    top = max([max(r["stats"]["max"], r["bound"]) for r in ratios] or [1.0])
    ax.set_xlim(right=top * 12)
    ax.axvline(1.0, color="grey", linewidth=0.8)
    ax.set_xlabel("ours / baseline (median, min-max bars; dashed = target)")
    ax.set_title("Ratios against the baseline run side by side")
    for i, r in enumerate(limits):
        s, b = r["stats"], r["baseline"]
        color = "tab:green" if r["met"] else "tab:red"
        ax2.barh(i - 0.2, s["median"] / r["bound"], height=0.4, color=color)
        ax2.barh(i + 0.2, b["median"] / r["bound"], height=0.4, color="tab:grey")
        ax2.text(
            max(s["median"], b["median"]) / r["bound"] * 1.15,
            i,
            f"ours {s['median']:.3g}, baseline {b['median']:.3g} {r['unit']} "
            f"(limit {r['bound']:g})",
            va="center",
        )
    ax2.set_yticks(range(len(limits)), [r["label"] for r in limits])
    ax2.invert_yaxis()
    ax2.set_xscale("log")
    top = max(
        [max(r["stats"]["median"], r["baseline"]["median"]) / r["bound"] for r in limits] or [1.0]
    )
    ax2.set_xlim(right=max(top, 1.0) * 40)
    ax2.axvline(1.0, color="black", linestyle="--")
    ax2.set_xlabel("value / limit (lower is better; dashed = limit; grey = baseline)")
    ax2.set_title("Absolute limits")
    fig.suptitle(f"storage-jobs benchmarks ({results['size']}, {results['runs']} runs)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return "matplotlib"


def _plain_chart(rows: list[dict[str, Any]], path: Path) -> None:
    """A text-free PNG: one bar per target, scaled so the black line is the target (x3 wide)."""
    width, bar, gap = 600, 18, 8
    height = max(1, len(rows)) * (bar + gap) + gap
    pixels = [[(255, 255, 255)] * width for _ in range(height)]
    target_x = width // 3
    for i, r in enumerate(rows):
        median = r["stats"]["median"]
        if r["kind"] == "ratio":
            score = median / r["bound"]
        else:
            score = r["bound"] / median if median > 0 else 3.0
        length = int(min(max(score, 0.0), 3.0) * target_x)
        color = (46, 160, 67) if r["met"] else (214, 39, 40)
        top = gap + i * (bar + gap)
        for y in range(top, top + bar):
            for x in range(min(length, width)):
                pixels[y][x] = color
    for y in range(height):
        pixels[y][target_x] = (0, 0, 0)
    raw = b"".join(b"\x00" + bytes(c for px in line for c in px) for line in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path.write_bytes(png)


def merge_results(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``old`` with the scenarios ``new`` ran replaced.

    Each scenario keeps when it ran, its runs and its sizes, so the table can say per row
    which run it comes from (the header keeps ``old``'s size and runs).
    """
    for record in (old, new):
        for scenario in record["scenarios"].values():
            scenario.setdefault("generated_at", record.get("generated_at"))
            scenario.setdefault("runs", record["runs"])
            scenario.setdefault("sizes", record["sizes"])
    merged = {**old, "generated_at": new["generated_at"]}
    merged["scenarios"] = {**old["scenarios"], **new["scenarios"]}
    merged["duration_s"] = round(
        sum(s.get("duration_s", 0.0) for s in merged["scenarios"].values()), 1
    )
    return merged


def write_reports(results: dict[str, Any], out: Path) -> dict[str, Path]:
    """Writes results.json, README.md's table and the chart into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    chart = out / CHART
    results["chart"] = write_chart(results, chart)
    json_path = out / "results.json"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    readme = out / "README.md"
    _update_readme(readme, markdown_table(results))
    return {"json": json_path, "readme": readme, "chart": chart}
