"""The whole local stack in one object: embedded AWS, the API behind an emulated API Gateway, the
dispatcher fed by an emulated SQS event source mapping, the poller fired by an emulated EventBridge
Scheduler, a simulated Intercom, callback receivers.

`make local`, `make demo` and the e2e tests all run this. Each function runs as on Lambda: its
execution environments are child processes (local/lambda_runtime.ProcessFunction) with the
environment they would have on Lambda, pointed at the embedded services, and several of them serve
invocations side by side. Tests that reach into the functions' modules run them in this process
instead (`functions_in_process=True`), one environment each.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Self, TypeVar

from local import REPO_ROOT, template
from local.apigateway import ApiGateway
from local.aws import LocalAws, MotoServer, shared_moto_server, start_local_aws
from local.intercom import SimulatedIntercom
from local.lambda_runtime import Function, FunctionOutput, Handler, ProcessFunction
from local.queue_worker import QueueWorker
from local.receiver import CallbackReceiver
from local.scheduler import SchedulerEmulator

DEFAULT_API_PORT = 3000
# Development defaults, documented in the README; never used by a deployed stack.
DEFAULT_ORGANIZATION_SECRET = "dev-organization-secret"  # noqa: S105 - a documented local default
DEFAULT_USER_SECRET = "dev-user-secret"  # noqa: S105 - a documented local default
DEFAULT_CALLBACK_ALLOWED_HOSTS = "127.0.0.1,localhost,::1"
# What a variable is when neither the caller nor os.environ sets it (template.yaml's Globals otherwise).
DEFAULTS = {
    "STAGE": "local",
    "ORGANIZATION_SECRET": DEFAULT_ORGANIZATION_SECRET,
    "USER_SECRET": DEFAULT_USER_SECRET,
    "CALLBACK_ALLOWED_HOSTS": DEFAULT_CALLBACK_ALLOWED_HOSTS,
    # Local receivers listen on plain http; ALLOW_HTTP_CALLBACKS=false tries the deployed rule.
    "ALLOW_HTTP_CALLBACKS": "true",
    "POWERTOOLS_SERVICE_NAME": "intercom-events",
    "POWERTOOLS_METRICS_NAMESPACE": "IntercomEvents",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
    "CALLBACK_TIMEOUT_SECONDS": "15",
}
# The functions' settings, read from template.yaml.
_API, _DISPATCHER, _POLLER = (template.function(name) for name in ("api", "dispatcher", "poller"))
API_FUNCTION_TIMEOUT_SECONDS = _API.timeout_seconds
DISPATCHER_FUNCTION_TIMEOUT_SECONDS = _DISPATCHER.timeout_seconds
POLLER_FUNCTION_TIMEOUT_SECONDS = _POLLER.timeout_seconds
FUNCTION_MEMORY_MB = _API.memory_mb
POLLER_FUNCTION_MEMORY_MB = _POLLER.memory_mb
DISPATCHER_BATCH_SIZE = template.sqs_source("dispatcher").batch_size
# Execution environments per function. Lambda starts one per concurrent request (the API), five
# concurrent SQS batches growing to the mapping's MaximumConcurrency (20) for the dispatcher, one per
# firing schedule for the poller; locally fewer keep a laptop's cores and memory in bounds (~80 MB
# each), and an invocation beyond them waits for a free environment instead of being throttled.
API_FUNCTION_CONCURRENCY = 4
DISPATCHER_CONCURRENCY = min(5, template.sqs_source("dispatcher").maximum_concurrency or 5)
POLLER_FUNCTION_CONCURRENCY = 2
# Variables whose empty value means something (no hosts at all), not "unset".
EMPTY_IS_A_VALUE = frozenset({"CALLBACK_ALLOWED_HOSTS"})

_T = TypeVar("_T")

API_FUNCTION_PATH = REPO_ROOT / "functions" / "api" / "app.py"
DISPATCHER_FUNCTION_PATH = REPO_ROOT / "functions" / "dispatcher" / "app.py"
POLLER_FUNCTION_PATH = REPO_ROOT / "functions" / "poller" / "app.py"


def load_function(function: str, *, fresh: bool = True) -> ModuleType:
    """functions/<function>/app.py imported as `<function>_app` (every function's file is app.py):
    afresh, or with `fresh=False` the module already imported if there is one."""
    name = f"{function}_app"
    if not fresh and name in sys.modules:
        return sys.modules[name]
    path = REPO_ROOT / "functions" / function / "app.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path.relative_to(REPO_ROOT)} does not exist yet")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_handler(function: str) -> Handler:
    handler = load_function(function).lambda_handler
    if not callable(handler):
        raise TypeError(f"{function}'s lambda_handler is not callable")
    return handler  # type: ignore[no-any-return]


def function_environment(
    aws: LocalAws,
    intercom_url: str,
    overrides: Mapping[str, str] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """The functions' environment: `overrides`, else `environ`, else the development defaults; the
    embedded AWS's settings always.

    An empty variable counts as unset (as the functions' settings read it), except those in
    EMPTY_IS_A_VALUE: `CALLBACK_ALLOWED_HOSTS=` means no host is allowed, as deployed."""
    overrides = overrides or {}

    def pick(name: str, default: str) -> str:
        for source in (overrides, environ):
            value = source.get(name)
            if value is not None and (value != "" or name in EMPTY_IS_A_VALUE):
                return value
        return default

    environment = {name: pick(name, default) for name, default in DEFAULTS.items()}
    environment["INTERCOM_API_BASE_URL"] = pick("INTERCOM_API_BASE_URL", intercom_url)
    # No X-Ray daemon here.
    environment["POWERTOOLS_TRACE_DISABLED"] = "true"
    environment.update({k: v for k, v in overrides.items() if k not in environment})
    # The embedded AWS always wins: a developer's own AWS settings must never be reached.
    environment.update(aws.environment())
    return environment


def clear_project_caches() -> None:
    """Forgets what the project package cached: settings first, then every functools cache (clients)
    and every warm-container cache (instances) so that a new stack in the same process is a cold start."""
    from intercom_events.config import settings
    from intercom_events.ttl_cache import TtlCache

    settings.cache_clear()
    for name, module in list(sys.modules.items()):
        if name == "intercom_events" or name.startswith("intercom_events."):
            for value in list(vars(module).values()):
                if isinstance(value, TtlCache):
                    value.clear()
                elif isinstance(value, functools._lru_cache_wrapper):
                    value.cache_clear()


class LocalStack:
    """Starts everything on `start()` (or `with`), stops and restores `os.environ` on `stop()`.

    `api_port`: None reads LOCAL_API_PORT (default 3000); 0 picks a free port (tests).
    `environment`: values that win over os.environ and the defaults (ORGANIZATION_SECRET, ...).
    `api_handler` / `dispatcher_handler` / `poller_handler`: stand-ins for the functions' handlers
    (tests of the stack).
    `run_queue_worker` / `run_scheduler`: False leaves the queue worker / the scheduler emulator to
    the caller (`stack.worker.drain()`, `stack.scheduler.run_pending()` or `.fire(name)`).
    `log_requests`: a line on stderr per API request and per schedule firing.
    `functions_in_process`: the functions' files imported into this process, one execution environment
    each (invocations serialised), for tests that hook into their modules (loggers, DNS); otherwise
    each function's environments are child processes whose output is in `function_output`.
    """

    def __init__(
        self,
        *,
        api_port: int | None = None,
        environment: Mapping[str, str] | None = None,
        api_handler: Handler | None = None,
        dispatcher_handler: Handler | None = None,
        poller_handler: Handler | None = None,
        run_queue_worker: bool = True,
        run_scheduler: bool = True,
        log_requests: bool = False,
        moto_server: MotoServer | None = None,
        functions_in_process: bool = False,
    ) -> None:
        self._api_port = api_port
        self._overrides = dict(environment or {})
        self._api_handler = api_handler
        self._dispatcher_handler = dispatcher_handler
        self._poller_handler = poller_handler
        self._run_queue_worker = run_queue_worker
        self._run_scheduler = run_scheduler
        self._log_requests = log_requests
        self._moto_server = moto_server
        self._functions_in_process = functions_in_process
        self._functions: list[Function] = []
        self.function_output = FunctionOutput()
        self._saved_environ: dict[str, str | None] = {}
        self._receivers: list[CallbackReceiver] = []
        self._aws: LocalAws | None = None
        self._intercom: SimulatedIntercom | None = None
        self._api: ApiGateway | None = None
        self._worker: QueueWorker | None = None
        self._scheduler: SchedulerEmulator | None = None
        self.environment: dict[str, str] = {}

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> Self:
        try:
            # First, because moto's own boto3 calls read them too.
            self._remove_shadowing_variables()
            self._aws = start_local_aws(self._moto_server or shared_moto_server())
            self._intercom = SimulatedIntercom().start()
            self.environment = function_environment(self._aws, self._intercom.url, self._overrides)
            self._apply_environment(self.environment)
            clear_project_caches()

            api_handler = self._api_handler or self._function(
                "api", API_FUNCTION_PATH, API_FUNCTION_TIMEOUT_SECONDS, API_FUNCTION_CONCURRENCY
            )
            dispatcher_handler = self._dispatcher_handler or self._function(
                "dispatcher",
                DISPATCHER_FUNCTION_PATH,
                DISPATCHER_FUNCTION_TIMEOUT_SECONDS,
                DISPATCHER_CONCURRENCY,
            )
            poller_handler = self._poller_handler or self._function(
                "poller", POLLER_FUNCTION_PATH, POLLER_FUNCTION_TIMEOUT_SECONDS, POLLER_FUNCTION_CONCURRENCY
            )
            port = self._api_port
            if port is None:
                port = int(os.environ.get("LOCAL_API_PORT") or DEFAULT_API_PORT)
            self._api = ApiGateway(
                api_handler,
                port=port,
                timeout_seconds=API_FUNCTION_TIMEOUT_SECONDS,
                memory_mb=FUNCTION_MEMORY_MB,
                log_requests=self._log_requests,
            ).start()
            self._worker = QueueWorker(
                dispatcher_handler,
                self._aws.queue_url,
                endpoint_url=self._aws.endpoint_url,
                batch_size=DISPATCHER_BATCH_SIZE,
                timeout_seconds=DISPATCHER_FUNCTION_TIMEOUT_SECONDS,
                memory_mb=FUNCTION_MEMORY_MB,
            )
            if self._run_queue_worker:
                self._worker.start()
            self._scheduler = SchedulerEmulator(
                poller_handler,
                self._aws.schedule_group_name,
                endpoint_url=self._aws.endpoint_url,
                region=self._aws.region,
                function_arn=self._aws.poller_function_arn,
                timeout_seconds=POLLER_FUNCTION_TIMEOUT_SECONDS,
                memory_mb=POLLER_FUNCTION_MEMORY_MB,
                log_firings=self._log_requests,
            )
            if self._run_scheduler:
                self._scheduler.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stops what was started, newest first. The moto server stays: the shared one lives as long as
        the process, and one passed in belongs to the caller."""
        if self._scheduler is not None:
            self._scheduler.stop()
        if self._worker is not None:
            self._worker.stop()
        if self._api is not None:
            self._api.stop()
        for receiver in self._receivers:
            receiver.stop()
        self._receivers.clear()
        if self._intercom is not None:
            self._intercom.stop()
        for function in self._functions:
            function.stop()
        self._functions.clear()
        self._restore_environment()
        if self._aws is not None:
            clear_project_caches()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- what callers use ------------------------------------------------------------------------------

    @property
    def aws(self) -> LocalAws:
        return _started(self._aws)

    @property
    def api(self) -> ApiGateway:
        return _started(self._api)

    @property
    def worker(self) -> QueueWorker:
        return _started(self._worker)

    @property
    def scheduler(self) -> SchedulerEmulator:
        return _started(self._scheduler)

    @property
    def intercom(self) -> SimulatedIntercom:
        return _started(self._intercom)

    @property
    def api_url(self) -> str:
        """`http://127.0.0.1:<port>/elements/api-v2`."""
        return self.api.api_url

    @property
    def intercom_base_url(self) -> str:
        """Where the functions send Intercom calls: INTERCOM_API_BASE_URL, else the simulated Intercom."""
        return self.environment["INTERCOM_API_BASE_URL"]

    def _function(
        self, name: str, path: Path, timeout_seconds: float, concurrency: int
    ) -> Handler | Function:
        """The function's handler in this process, or its execution environments as child processes."""
        if self._functions_in_process:
            return load_handler(name)
        if not path.is_file():
            raise FileNotFoundError(f"{path.relative_to(REPO_ROOT)} does not exist yet")
        function = ProcessFunction(
            name,
            path,
            module_name=f"{name}_app",
            timeout_seconds=timeout_seconds,
            memory_mb=FUNCTION_MEMORY_MB,
            concurrency=concurrency,
            environment=dict(os.environ),
            output=self.function_output,
        )
        self._functions.append(function)
        return function

    def receiver(self, **options: Any) -> CallbackReceiver:
        """A started callback receiver on a free loopback port, stopped with the stack."""
        receiver = CallbackReceiver(**options).start()
        self._receivers.append(receiver)
        return receiver

    # --- environment -----------------------------------------------------------------------------------

    def _remove_shadowing_variables(self) -> None:
        # A named profile, a session token or a per-service endpoint would win over what is set here.
        shadowing = [k for k in os.environ if k in ("AWS_PROFILE", "AWS_SESSION_TOKEN")]
        shadowing += [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_")]
        for name in shadowing:
            self._saved_environ.setdefault(name, os.environ.pop(name))

    def _apply_environment(self, environment: Mapping[str, str]) -> None:
        for name in environment:
            self._saved_environ.setdefault(name, os.environ.get(name))
        os.environ.update(environment)

    def _restore_environment(self) -> None:
        for name, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environ.clear()


def _started(value: _T | None) -> _T:
    if value is None:
        raise RuntimeError("the local stack is not started")
    return value
