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
tracer = Tracer()

# botocore logs each request's body at DEBUG, KMS's plaintext among them (the sealed secrets, in Base64):
# whatever level the runtime gives the root logger, its lines stop at INFO.
logging.getLogger("botocore").setLevel(logging.INFO)

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
