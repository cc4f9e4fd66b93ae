"""Logger, metrics and tracer, created once per process and shared by every module.

The service name and the metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE (set in template.yaml and by the local stack).
"""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()
# X-Ray patches the two libraries this project calls out with, each once a function needs it: botocore
# here (every function calls AWS), httpx when a function's app loads code that calls with it (trace_httpx).
# Tracer's default, patching every library X-Ray knows, imports each of them at every cold start.
tracer = Tracer(patch_modules=["botocore"])


def trace_httpx() -> None:
    """Trace httpx's calls too (the poller's and the management routes' calls to Intercom, one at a time
    on one thread; not the dispatcher's concurrent callbacks: functions/dispatcher/app.py says why). X-Ray
    patches a library once, however often this is called."""
    tracer.patch(["httpx"])


# botocore logs each request's body at DEBUG, KMS's plaintext among them (the sealed secrets, in Base64):
# whatever level the runtime gives the root logger, its lines stop at INFO.
logging.getLogger("botocore").setLevel(logging.INFO)

__all__ = ["MetricUnit", "logger", "metrics", "trace_httpx", "tracer"]
