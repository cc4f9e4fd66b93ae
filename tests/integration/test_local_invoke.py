"""`make invoke FN=<function> EVENT=<file>` where Docker is missing: the sample event through the
function's handler in a process of its own, over a fresh moto server with the template's resources.

Run as `make invoke` runs it (`python -m local.invoke`), with a `docker` on PATH whose `docker info`
fails, so that the fallback is what is tested on any machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def no_docker(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose `docker info` fails, as on a machine without a Docker daemon."""
    folder = tmp_path_factory.mktemp("no-docker")
    docker = folder / "docker"
    docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    docker.chmod(0o755)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment["PATH"] = f"{folder}{os.pathsep}{environment['PATH']}"
    return environment


def make_invoke(
    environment: dict[str, str], function: str, event: str | Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, the repository's own module
        [sys.executable, "-m", "local.invoke", function, str(event)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def answer_of(run: subprocess.CompletedProcess[str]) -> Any:
    assert run.returncode == 0, run.stderr
    assert "Docker is not available" in run.stderr
    return json.loads(run.stdout)


def test_the_api_answers_a_sample_request_from_the_templates_table(no_docker: dict[str, str]) -> None:
    # GET /instances reads the table: an answer means the resources exist under the names it was given.
    answer = answer_of(make_invoke(no_docker, "api", "events/api/list_instances.json"))

    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"]) == []


def test_the_dispatcher_takes_the_sample_batch(no_docker: dict[str, str]) -> None:
    # The batch's instance does not exist in the fresh table: its callback is cancelled, not retried.
    answer = answer_of(make_invoke(no_docker, "dispatcher", "events/dispatcher/batch.json"))

    assert answer == {"batchItemFailures": []}


def test_the_poller_reads_the_sample_schedules_instance(no_docker: dict[str, str]) -> None:
    answer = answer_of(make_invoke(no_docker, "PollerFunction", "events/poller/scheduled_poll.json"))

    assert answer["instanceId"] == 1
    assert (answer["outcome"], answer["reason"]) == ("skipped", "no such instance")


def test_a_failed_invocation_exits_non_zero_with_the_error(no_docker: dict[str, str], tmp_path: Path) -> None:
    event = tmp_path / "bad_poll.json"
    event.write_text(json.dumps({"instanceId": "first"}))

    run = make_invoke(no_docker, "poller", event)

    assert run.returncode == 1
    assert '"errorType": "ValueError"' in run.stderr
    assert run.stdout == ""


def test_an_unknown_function_is_refused_with_the_known_ones(no_docker: dict[str, str]) -> None:
    run = make_invoke(no_docker, "mailer", "events/api/health.json")

    assert run.returncode == 2
    assert "api, dispatcher, poller" in run.stderr
