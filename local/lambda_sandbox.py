"""One execution environment of a function (the child side of local/lambda_runtime.ProcessFunction).

`python -m local.lambda_sandbox <app.py> <module name> <request fd> <answer fd>`: imports the handler
once (Lambda's init phase), then serves one invocation at a time: a JSON line in on the request pipe,
a JSON line out on the answer pipe. stdout and stderr are the function's log, which the parent passes
on line by line. An unhandled error is logged as one JSON line, as Lambda's JSON log format does.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

from local.lambda_runtime import Handler, LambdaContext


def load(path: Path, module_name: str) -> Handler:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    handler = module.lambda_handler
    if not callable(handler):
        raise TypeError(f"{module_name}.lambda_handler is not callable")
    return handler  # type: ignore[no-any-return]


def error_answer(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {"errorType": error_type or type(error).__name__, "errorMessage": str(error)}


def log_error(name: str, request_id: str | None, answer: dict[str, Any], error: BaseException) -> None:
    line = {
        "level": "ERROR",
        "message": f"{answer['errorType']}: {answer['errorMessage']}",
        "function_name": name,
        "requestId": request_id,
        "stackTrace": traceback.format_exception(error),
    }
    sys.stdout.write(json.dumps(line, default=str) + "\n")
    sys.stdout.flush()


def serve(handler: Handler | None, init_error: BaseException | None, requests: Any, answers: Any) -> None:
    for line in requests:
        request = json.loads(line)
        name = str(request["functionName"])
        context = LambdaContext(
            name,
            int(request["memoryMb"]),
            float(request["timeoutSeconds"]),
            aws_request_id=request["requestId"],
        )
        try:
            if handler is None:
                assert init_error is not None
                answer = error_answer(init_error, "Runtime.ImportModuleError")
                log_error(name, context.aws_request_id, answer, init_error)
            else:
                answer = {"result": handler(request["event"], context)}
        except Exception as error:
            answer = error_answer(error)
            log_error(name, context.aws_request_id, answer, error)
        try:
            text = json.dumps(answer)
        except (TypeError, ValueError) as error:
            text = json.dumps(error_answer(error, "Runtime.MarshalError"))
        answers.write(text + "\n")
        answers.flush()
        if handler is None:
            return  # Lambda starts a new environment to try the init again


def main(argv: list[str]) -> int:
    path, module_name, request_fd, answer_fd = argv
    # The parent stops the environments; Ctrl-C in the terminal reaches the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # As `make local` does for itself: Powertools warns on every invocation that publishes no metric.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    handler: Handler | None = None
    init_error: BaseException | None = None
    try:
        handler = load(Path(path), module_name)
    except Exception as error:
        init_error = error
    with (
        os.fdopen(int(request_fd), "r", encoding="utf-8") as requests,
        os.fdopen(int(answer_fd), "w", encoding="utf-8") as answers,
    ):
        serve(handler, init_error, requests, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
