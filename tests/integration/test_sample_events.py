"""Every sample event in events/ is one a test invokes a handler with (what `sam local invoke -e` uses)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVENTS = sorted(path.relative_to(ROOT / "events").as_posix() for path in (ROOT / "events").rglob("*.json"))
TESTS = "\n".join(path.read_text() for path in (ROOT / "tests").rglob("test_*.py"))


def test_every_function_has_sample_events() -> None:
    functions = sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py"))
    assert {name.split("/")[0] for name in EVENTS} == set(functions)


@pytest.mark.parametrize("name", EVENTS)
def test_the_sample_event_is_invoked_by_a_test(name: str) -> None:
    assert f'"{name}"' in TESTS, f"no test loads events/{name}"
