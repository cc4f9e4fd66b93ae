"""One measured figure as `make bench` reports it, and how a bench module hands its figures over.

Each module `make bench` runs has `run(quick: bool) -> list[Figure]` and ends with
`if __name__ == "__main__": emit(run(...))`: run alone it prints its figures; run by `make bench`
(`--json PATH`) it writes them for benchmarks/results.py, which puts every module's figures into
benchmarks/RESULTS.md. A target is a ratio to a floor measured in the same run (these machines are noisy:
an absolute time alone proves nothing), or, for a count without a floor, the count itself.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Figure:
    key: str  # stable and unique across modules, e.g. "cold.api.webhook"
    label: str  # what was measured, e.g. "api: a webhook as the first request of a new process"
    value: float  # the median of the runs (or the count)
    unit: str  # "ms", "calls", "requests", "MB", "events/s"
    floor: float | None = None  # the floor's median, measured in the same run, same unit
    floor_label: str = ""  # what the floor does, e.g. "import boto3, one SQS client, one SendMessage"
    target: float | None = None  # met when value / floor <= target (or value <= target without a floor)
    runs: int = 1  # how many runs the median is of
    note: str = ""  # how it was measured; and, when the target is missed, by how much and why
    details: dict[str, Any] = field(default_factory=dict)  # e.g. {"p99 ms": 4.1, "calls": {...}}
    higher_is_better: bool = False  # events/s: the target is a floor to reach, not a ceiling

    @property
    def ratio(self) -> float | None:
        return self.value / self.floor if self.floor else None

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        measured = self.ratio if self.floor else self.value
        if measured is None:
            return None
        return measured >= self.target if self.higher_is_better else measured <= self.target


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], share: float) -> float:
    """The value at `share` (0.99: p99) of the sorted values, nearest rank."""
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))])


def emit(figures: list[Figure], argv: list[str] | None = None) -> None:
    """`--json PATH` writes the figures for benchmarks/results.py; otherwise a table on stdout."""
    args = sys.argv[1:] if argv is None else argv
    if "--json" in args:
        path = Path(args[args.index("--json") + 1])
        path.write_text(json.dumps([asdict(f) for f in figures], indent=1))
        return
    for f in figures:
        ratio = f" = {f.ratio:.2f}x {f.floor:.1f} {f.unit} ({f.floor_label})" if f.ratio is not None else ""
        target = "" if f.met is None else f"  target {f.target}: {'met' if f.met else 'MISSED'}"
        print(f"{f.label}: {f.value:.1f} {f.unit}{ratio}{target}")
        for name, value in f.details.items():
            print(f"    {name}: {value}")
        if f.note:
            print(f"    {f.note}")


def load(path: Path) -> list[Figure]:
    return [Figure(**item) for item in json.loads(path.read_text())]
