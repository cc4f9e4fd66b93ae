"""Execution environments as Lambda runs them: a process each, one invocation at a time in each,
several side by side, a timed-out one killed and replaced, every printed line passed on whole."""

from __future__ import annotations

import json
import os
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local.lambda_runtime import FunctionError, FunctionOutput, ProcessFunction

HANDLER = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path

    INVOCATIONS = 0  # module state: one count per execution environment

    def lambda_handler(event, context):
        global INVOCATIONS
        INVOCATIONS += 1
        if event.get("raise"):
            raise ValueError("as asked")
        if event.get("sleep"):
            time.sleep(event["sleep"])
        if event.get("meet"):  # wait until `meet` invocations are under way at once
            folder = Path(event["folder"])
            (folder / f"{os.getpid()}-{context.aws_request_id}").touch()
            deadline = time.monotonic() + 30
            while len(list(folder.iterdir())) < event["meet"] and time.monotonic() < deadline:
                time.sleep(0.01)
        for number in range(event.get("lines", 0)):
            print(json.dumps({"function_name": context.function_name, "n": number, "pad": "x" * 5000}))
        return {"pid": os.getpid(), "invocations": INVOCATIONS, "name": context.function_name}
    """
)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    path = tmp_path / "app.py"
    path.write_text(HANDLER)
    return path


@pytest.fixture
def output() -> FunctionOutput:
    return FunctionOutput(echo=False)


def function(app: Path, output: FunctionOutput, **options: float) -> ProcessFunction:
    return ProcessFunction("probe", app, output=output, **options)  # type: ignore[arg-type]


def test_a_function_runs_in_a_process_of_its_own_kept_warm(app, output):
    probe = function(app, output)
    try:
        first, second = probe.invoke({}), probe.invoke({})
    finally:
        probe.stop()

    assert first["pid"] != os.getpid()
    assert (second["pid"], second["invocations"]) == (first["pid"], 2)
    assert first["name"] == "probe"


def test_invocations_at_once_run_side_by_side_in_separate_environments(app, output, tmp_path):
    folder = tmp_path / "meeting"
    folder.mkdir()
    probe = function(app, output, concurrency=3)
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            answers = list(pool.map(lambda _: probe.invoke({"meet": 3, "folder": str(folder)}), range(3)))
    finally:
        probe.stop()

    assert len({answer["pid"] for answer in answers}) == 3  # three processes, met while all ran
    assert len(list(folder.iterdir())) == 3
    assert [answer["invocations"] for answer in answers] == [1, 1, 1]


def test_a_timed_out_invocation_has_its_environment_killed_and_replaced(app, output):
    probe = function(app, output, timeout_seconds=1)
    try:
        before = probe.invoke({})
        with pytest.raises(FunctionError, match=r"Task timed out after 1\.00 seconds"):
            probe.invoke({"sleep": 30})
        after = probe.invoke({})
    finally:
        probe.stop()

    assert after["pid"] != before["pid"]
    assert after["invocations"] == 1  # a cold start
    with pytest.raises(ProcessLookupError):
        os.kill(before["pid"], 0)
    [logged] = [json.loads(line.text) for line in output.lines]
    assert (logged["level"], logged["function_name"]) == ("ERROR", "probe")


def test_a_handler_error_is_a_function_error_logged_as_one_json_line(app, output):
    probe = function(app, output)
    try:
        with pytest.raises(FunctionError, match="ValueError: as asked"):
            probe.invoke({"raise": True})
        after = probe.invoke({})
    finally:
        probe.stop()

    assert after["invocations"] == 2  # the same environment goes on
    [logged] = [json.loads(line.text) for line in output.lines]
    assert logged["message"] == "ValueError: as asked"
    assert any("as asked" in frame for frame in logged["stackTrace"])


def test_lines_printed_at_once_by_two_environments_arrive_whole(app, output):
    probe = function(app, output, concurrency=2)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda _: probe.invoke({"lines": 200}), range(2)))
    finally:
        probe.stop()

    lines = output.lines
    assert len(lines) == 400
    assert all(json.loads(line.text)["pad"] == "x" * 5000 for line in lines)


def test_a_missing_file_fails_at_once(tmp_path, output):
    with pytest.raises(FileNotFoundError):
        ProcessFunction("probe", tmp_path / "none.py", output=output)
