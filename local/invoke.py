"""`make invoke FN=<function> EVENT=<file>`: one event through one function, as `sam local invoke` runs
it, over a moto server of its own holding template.yaml's resources.

1. A moto server on loopback (local/moto_process.py) with the template's resources (local/aws.py).
2. SAM's `--env-vars` file, .aws-sam/invoke-env.json: for the function, every variable the template
   declares, the committed env.json (the sample: development secrets, allowed callback hosts) over the
   template's own values, and the resources' names over both.
3. With Docker (`docker info` answers): `make build`, then `sam local invoke <Function> -e <file>
   --env-vars <file>`. Without: the same event through the function's handler in this process with the
   same variables, saying so. The answer goes to stdout, the function's log to stderr, as SAM does.

`python -m local.invoke <api|dispatcher|poller|logical id> <event file>`. Exits 1 when the invocation
fails (the handler raised, SAM or the build failed), 2 when the arguments are wrong.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local import REPO_ROOT
from local import template as cfn
from local.aws import (
    FAKE_ACCESS_KEY_ID,
    FAKE_SECRET_ACCESS_KEY,
    LocalAws,
    MotoServer,
    create_resources,
)
from local.lambda_runtime import REGION, LocalFunction

SAMPLE_ENV_FILE = REPO_ROOT / "env.json"
ENV_FILE = REPO_ROOT / ".aws-sam" / "invoke-env.json"
SAM = REPO_ROOT / ".venv-sam" / "bin" / "sam"
USAGE = "usage: make invoke FN=<api|dispatcher|poller> EVENT=<file>, e.g. FN=api EVENT=events/api/health.json"


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not all(argv):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        function = cfn.function(argv[0])
        event = json.loads(Path(argv[1]).read_text())
    except (cfn.TemplateError, OSError, ValueError) as error:
        print(f"make invoke: {error}\n{USAGE}", file=sys.stderr)
        return 2

    docker = docker_problem()
    if docker is None:
        # `sam local invoke` runs the built functions and layer (.aws-sam/build), as SAM users expect.
        if subprocess.run(["make", "--no-print-directory", "build"], cwd=REPO_ROOT, check=False).returncode:  # noqa: S607
            return 1
    else:
        say(f"Docker is not available ({docker}): no `sam local invoke`.")
        say(f"{function.logical_id}'s handler runs in this process instead (this Python, no container).")
    server = MotoServer().start()
    try:
        aws = create_resources(server.endpoint_url, name_prefix="intercom-events-invoke")
        if docker is None:
            return sam_local_invoke(function, Path(argv[1]), aws)
        return invoke_in_process(function, event, aws)
    finally:
        server.stop()


def say(message: str) -> None:
    print(f"make invoke: {message}", file=sys.stderr, flush=True)


def docker_problem() -> str | None:
    """Why Docker cannot run the function, or None when `docker info` answers."""
    docker = shutil.which("docker")
    if docker is None:
        return "no docker command on PATH"
    try:
        answer = subprocess.run([docker, "info"], capture_output=True, timeout=30, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"`docker info` failed: {type(error).__name__}"
    return None if answer.returncode == 0 else f"`docker info` exited with status {answer.returncode}"


def env_file_block(function: cfn.FunctionSettings, aws: LocalAws, endpoint_url: str) -> dict[str, str]:
    """Every variable the function declares, as `sam local invoke --env-vars` should set it."""
    sample = json.loads(SAMPLE_ENV_FILE.read_text())
    declared = aws.function_variables(function.logical_id)
    for given in (sample.get("Parameters", {}), sample.get(function.logical_id, {})):
        declared.update({name: str(value) for name, value in given.items() if name in declared})
    declared.update(aws.resource_variables(function.logical_id))
    declared["AWS_ENDPOINT_URL"] = endpoint_url
    return declared


def write_env_file(aws: LocalAws, endpoint_url: str) -> Path:
    blocks = {f.logical_id: env_file_block(f, aws, endpoint_url) for f in cfn.functions().values()}
    ENV_FILE.parent.mkdir(exist_ok=True)
    ENV_FILE.write_text(json.dumps(blocks, indent=2) + "\n")
    ENV_FILE.chmod(0o600)  # the development secrets
    return ENV_FILE


def sam_local_invoke(function: cfn.FunctionSettings, event_file: Path, aws: LocalAws) -> int:
    # Linux: the container shares the host's network, so the loopback server is in reach. Docker
    # Desktop (macOS, Windows) forwards host.docker.internal to the host's loopback.
    options = ["--docker-network", "host"] if sys.platform == "linux" else []
    endpoint_url = aws.endpoint_url
    if not options:
        endpoint_url = endpoint_url.replace("127.0.0.1", "host.docker.internal")
    env_file = write_env_file(aws, endpoint_url)
    # SAM hands the container its own session's region and credentials: moto's, never a real profile's.
    environment = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN")}
    environment.update(
        AWS_ACCESS_KEY_ID=FAKE_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=FAKE_SECRET_ACCESS_KEY,
        AWS_DEFAULT_REGION=REGION,
        SAM_CLI_TELEMETRY="0",
    )
    command = [str(SAM), "local", "invoke", function.logical_id, "-e", str(event_file)]
    command += ["--env-vars", str(env_file), "--region", REGION, *options]
    say(" ".join(command))
    return subprocess.run(command, cwd=REPO_ROOT, env=environment, check=False).returncode  # noqa: S603


def invoke_in_process(function: cfn.FunctionSettings, event: Any, aws: LocalAws) -> int:
    env_file = write_env_file(aws, aws.endpoint_url)
    say(f"the variables are those of {env_file.relative_to(REPO_ROOT)}, AWS is {aws.endpoint_url}")
    apply_environment(json.loads(env_file.read_text())[function.logical_id], aws)
    # The function's log to stderr (its Logger takes sys.stdout when its module is imported), the
    # answer alone to stdout.
    from local.stack import load_handler

    with contextlib.redirect_stdout(sys.stderr):
        try:
            handler = load_handler(function.name)
            runner = LocalFunction(
                function.logical_id,
                handler,
                timeout_seconds=function.timeout_seconds,
                memory_mb=function.memory_mb,
            )
            answer = runner.invoke(event)
        except Exception as error:
            traceback.print_exc()
            failure = {"errorType": type(error).__name__, "errorMessage": str(error)}
            say(f"{function.logical_id} failed: {json.dumps(failure)}")
            return 1
    print(json.dumps(answer))
    return 0


def apply_environment(variables: Mapping[str, str], aws: LocalAws) -> None:
    """The function's variables, and what SAM would add (region, credentials), in this process; a
    profile, a session token or a per-service endpoint that would lead elsewhere removed."""
    for name in [k for k in os.environ if k in ("AWS_PROFILE", "AWS_SESSION_TOKEN")]:
        del os.environ[name]
    for name in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_")]:
        del os.environ[name]
    os.environ.update(variables)
    os.environ.update({k: v for k, v in aws.environment().items() if k.startswith("AWS_")})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
