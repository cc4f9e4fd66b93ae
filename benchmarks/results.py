"""`make bench`: every bench module in its own process, then benchmarks/RESULTS.md from their figures.

Run: `make bench` (or `.venv/bin/python -m benchmarks.results [--quick] [--only cold_start,intake]`).
Each module runs as `python -m benchmarks.<module> --json <file>` (benchmarks/figures.py), so one
module's imports, moto state and servers never colour another's figures. RESULTS.md gets the command,
the machine, the date, every figure with its floor and ratio, the targets met and missed, memory against
each function's MemorySize, and the cost per million webhook events and per million polls
(benchmarks/unit_cost.py). Exit status 1 when a module failed; a missed target is reported, not fatal:
these are measurements, not tests.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.figures import Figure, load

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
# In the order RESULTS.md shows them; each is benchmarks/<name>.py.
MODULES = {
    "cold_start": "Cold start, end to end, in a Lambda-like layout",
    "intake": "Warm webhook intake",
    "dispatch": "Dispatcher",
    "poll_scaling": "Poller",
}


def machine() -> str:
    """What the figures were measured on: they mean little without it."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB RAM"
    return (
        f"{platform.system()} {platform.release()} {platform.machine()}, {cpu}, "
        f"{os.cpu_count()} cores{memory}; bench driver Python {platform.python_version()}"
    )


def run_module(name: str, quick: bool) -> tuple[list[Figure], float, str | None]:
    """The module's figures, its wall time, and its error output when it failed."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"{name}.json"
        command = [sys.executable, "-m", f"benchmarks.{name}", "--json", str(out)]
        started = time.monotonic()
        done = subprocess.run(  # noqa: S603 - this interpreter, on this repository's modules
            [*command, *(["--quick"] if quick else [])], cwd=ROOT, capture_output=True, text=True
        )
        elapsed = time.monotonic() - started
        if done.returncode != 0 or not out.exists():
            return [], elapsed, (done.stderr or done.stdout)[-3000:]
        return load(out), elapsed, None


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text} {unit}".strip()


def _verdict(f: Figure) -> str:
    if f.met is None:
        return ""
    sign = ">=" if f.higher_is_better else "<="
    return f"{'met' if f.met else '**missed**'} ({sign} {f.target:g}{'x' if f.floor else ''})"


def figure_rows(figures: list[Figure]) -> list[str]:
    rows = ["| figure | measured | floor | ratio | target | runs |", "|---|---:|---:|---:|---|---:|"]
    for f in figures:
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else ""
        rows.append(
            f"| {f.label} | {_number(f.value, f.unit)} | {_number(f.floor, f.unit)} | {ratio} | "
            f"{_verdict(f)} | {f.runs} |"
        )
    return rows


def figure_notes(figures: list[Figure]) -> list[str]:
    lines = []
    for f in figures:
        parts = [f.note] if f.note else []
        if f.floor_label:
            parts.insert(0, f"Floor: {f.floor_label}.")
        details = "; ".join(f"{k}: {_detail(v)}" for k, v in f.details.items())
        if details:
            parts.append(details)
        if parts:
            lines.append(f"- **{f.label}.** " + " ".join(parts))
    return lines


def _detail(value: object) -> str:
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_detail(v)}" for k, v in value.items())
    return str(value)


def render(
    results: dict[str, tuple[list[Figure], float, str | None]], quick: bool, started: datetime.datetime
) -> str:
    from benchmarks.unit_cost import cost_section

    every = [f for figures, _, _ in results.values() for f in figures]
    missed = [f for f in every if f.met is False]
    total = sum(elapsed for _, elapsed, _ in results.values())
    out = [
        "# Benchmark results",
        "",
        "Written by `make bench` (benchmarks/results.py); do not edit by hand, run it again.",
        "",
        f"- Command: `make bench{' QUICK=1' if quick else ''}`, {total / 60:.1f} minutes for the modules",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine()}",
        "- Every time is the median of the runs shown, and every target a ratio to a floor measured in the",
        "  same run, in the same way, on the same machine: these machines are noisy, so an absolute time",
        "  alone proves nothing. Counts (AWS calls, requests, writes) are exact.",
        "",
        "## Targets",
        "",
        *figure_rows([f for f in every if f.target is not None]),
        "",
    ]
    if missed:
        out += ["Missed, by how much and why:", ""]
        out += [
            f"- **{f.label}**: {_number(f.ratio if f.floor else f.value)}{'x' if f.floor else ''} "
            f"against {f.target:g}{'x' if f.floor else ''}. {f.note}"
            for f in missed
        ]
        out.append("")
    for name, title in MODULES.items():
        if name not in results:
            continue
        figures, elapsed, error = results[name]
        out += [f"## {title}", "", f"`.venv/bin/python -m benchmarks.{name}` ({elapsed:.0f} s)", ""]
        if error is not None:
            out += ["It failed:", "", "```", error.strip(), "```", ""]
            continue
        out += [*figure_rows(figures), "", *figure_notes(figures), ""]
    out += memory_section(every)
    out += cost_section(every)
    return "\n".join(out).rstrip() + "\n"


def memory_section(figures: list[Figure]) -> list[str]:
    """Each function's MemorySize beside its measured peak: what sets it is CPU, not memory."""
    peaks = [f for f in figures if f.key.startswith("memory.")]
    if not peaks:
        return []
    out = ["## Memory and MemorySize", ""]
    for f in peaks:
        function = f.key.removeprefix("memory.")
        out.append(
            f"- {function}: peak {f.value:.0f} MB on its largest input, {f.target:g} MB set: "
            f"{(f.target or 0) / f.value:.1f}x headroom."
        )
    under_half = all(f.target and f.value < f.target / 2 for f in peaks)
    out += [
        "",
        "Each peaks under half of its MemorySize, so memory alone would allow less."
        if under_half
        else "Not every function peaks under half of its MemorySize: keep the headroom.",
        "What sets MemorySize is the CPU it brings: Lambda gives CPU in proportion to memory (one vCPU at",
        "1,769 MB), and a cold start is CPU-bound work (imports), which at half the memory takes about twice",
        "as long for the same GB-seconds. Intercom deprioritises a webhook endpoint slower than 500 ms, and",
        "each cold start is paid again on every new sandbox of a burst. The dispatcher's largest batch (ten",
        "jobs whose bodies come from S3) holds several times a small one's memory.",
        "",
    ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks and write benchmarks/RESULTS.md.")
    parser.add_argument("--quick", action="store_true", help="fewer runs: a check that each module works")
    parser.add_argument("--only", default="", help="comma-separated modules (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    chosen = [m for m in MODULES if not args.only or m in args.only.split(",")]
    started = datetime.datetime.now(datetime.UTC)
    results = {}
    for name in chosen:
        print(f"benchmarks.{name} ...", flush=True)
        results[name] = run_module(name, args.quick)
        figures, elapsed, error = results[name]
        print(f"  {len(figures)} figures in {elapsed:.0f} s{'; FAILED' if error else ''}", flush=True)
        if error:
            print(error, file=sys.stderr)
    args.out.write_text(render(results, args.quick, started))
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 1 if any(error for _, _, error in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
