"""An embedded AWS: a moto server on loopback with the resources template.yaml declares.

Also the polling instances' Scheduler schedule group and the schedules' dead-letter queue; moto
stores schedules but never fires them, which local/scheduler.py does. The poller's ARN and the role
Scheduler assumes are well-formed but fake: nothing here checks them.

The table and queue definitions below are the one local copy of the template's; a test
(tests/integration/test_local_template_parity.py) keeps them equal.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Self

import boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from local import REPO_ROOT
from local.lambda_runtime import ACCOUNT_ID, REGION

FAKE_ACCESS_KEY_ID = "testing"
FAKE_SECRET_ACCESS_KEY = "testing"  # noqa: S105 - moto accepts any

# --- the template's Table ---------------------------------------------------------------------------
TABLE_BILLING_MODE = "PAY_PER_REQUEST"
TABLE_KEY_SCHEMA: list[dict[str, str]] = [
    {"AttributeName": "pk", "KeyType": "HASH"},
    {"AttributeName": "sk", "KeyType": "RANGE"},
]
TABLE_ATTRIBUTE_DEFINITIONS: list[dict[str, str]] = [
    {"AttributeName": name, "AttributeType": "S"}
    for name in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk")
]
TABLE_GLOBAL_SECONDARY_INDEXES: list[dict[str, Any]] = [
    {
        "IndexName": "byOwner",
        "KeySchema": [
            {"AttributeName": "gsi1pk", "KeyType": "HASH"},
            {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    },
    {
        "IndexName": "byTime",
        "KeySchema": [
            {"AttributeName": "gsi2pk", "KeyType": "HASH"},
            {"AttributeName": "gsi2sk", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    },
    {
        "IndexName": "byStatus",
        "KeySchema": [
            {"AttributeName": "gsi3pk", "KeyType": "HASH"},
            {"AttributeName": "gsi3sk", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    },
]
TABLE_TTL_ATTRIBUTE = "expiresAt"

# --- the template's callback queue and its dead-letter queue ---------------------------------------
QUEUE_VISIBILITY_TIMEOUT_SECONDS = 180
QUEUE_MAX_RECEIVE_COUNT = 9
QUEUE_RETENTION_SECONDS = 14 * 24 * 3600


def aws_client(service: str, endpoint_url: str | None, region: str = REGION) -> Any:
    """A boto3 client for the local endpoint with fake credentials, whatever the caller's profile says
    (no endpoint: AWS_ENDPOINT_URL, or moto's in-process mock)."""
    session = boto3.session.Session(
        aws_access_key_id=FAKE_ACCESS_KEY_ID,
        aws_secret_access_key=FAKE_SECRET_ACCESS_KEY,
        region_name=region,
    )
    return session.client(service, endpoint_url=endpoint_url)


class SerialisedDynamoDB:
    """WSGI middleware: one DynamoDB request at a time, every other service untouched.

    DynamoDB promises that a conditional write is atomic; moto's backend checks the condition and
    writes without a lock, and its server answers each request on its own thread. Measured: 3 to 16
    threads making the same conditional UpdateItem on a new key had two winners in 8-33 % of 40
    trials (two dispatchers both claiming one event, so a callback went out twice). A lock around
    DynamoDB's requests restores the promise; its reads are cheap in-memory lookups, so the cost is
    small. SQS is never serialised: a ReceiveMessage long poll would hold everything up.
    """

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if not target.startswith("DynamoDB_"):
            return self._app(environ, start_response)
        with self._lock:
            # The body is read and the answer made inside the lock; moto answers with a list.
            return list(self._app(environ, start_response))


class ThreadedMotoServerWithLocks(ThreadedMotoServer):
    def _server_entry(self) -> None:
        # moto's own entry, with DynamoDB serialised (moto offers no hook for middleware).
        app = SerialisedDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


class MotoServer:
    """moto's server on 127.0.0.1, on a free port unless one is given, with DynamoDB's conditional
    writes made atomic (`SerialisedDynamoDB`), in a process of its own (local/moto_process.py).

    Its own process, because AWS is not in the functions' callers' process either: moto spends several
    milliseconds of interpreter time on each call, and in the stack's process it would take turns with
    the API Gateway, the event sources and the log under one GIL. Each server holds its own data, and
    ends with the process that started it.
    """

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._process: subprocess.Popen[str] | None = None
        self._address: tuple[str, int] | None = None

    def start(self) -> Self:
        if self._process is None:
            process = subprocess.Popen(  # noqa: S603 - this interpreter, the repository's own module
                [sys.executable, "-m", "local.moto_process", str(self._port)],
                stdin=subprocess.PIPE,  # closed when this process ends, which ends the server
                stdout=subprocess.PIPE,
                cwd=str(REPO_ROOT),
                text=True,
            )
            assert process.stdout is not None
            ready = process.stdout.readline().split()
            if len(ready) != 2:
                process.kill()
                raise RuntimeError(f"the moto server did not start (exit status {process.wait()})")
            self._process, self._address = process, (ready[0], int(ready[1]))
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    @property
    def endpoint_url(self) -> str:
        if self._address is None:
            raise RuntimeError("the moto server is not started")
        host, port = self._address
        return f"http://{host}:{port}"


_shared: MotoServer | None = None
_shared_lock = threading.Lock()


def shared_moto_server() -> MotoServer:
    """One server for the whole process, started on first use and left running until exit.

    Handlers cache their boto3 clients across invocations, as on Lambda; a stable endpoint keeps
    those clients valid when one process starts several stacks (the e2e tests).
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MotoServer().start()
        return _shared


@dataclass(frozen=True)
class LocalAws:
    """The resources made on a moto server, and the environment the functions need to reach them."""

    endpoint_url: str
    table_name: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    kms_key_id: str
    schedule_group_name: str
    schedule_dlq_url: str
    schedule_dlq_arn: str
    poller_function_arn: str
    scheduler_role_arn: str
    body_bucket_name: str
    region: str = REGION

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
            "TABLE_NAME": self.table_name,
            "QUEUE_URL": self.queue_url,
            "KMS_KEY_ID": self.kms_key_id,
            "SCHEDULE_GROUP_NAME": self.schedule_group_name,
            "POLLER_FUNCTION_ARN": self.poller_function_arn,
            "SCHEDULER_ROLE_ARN": self.scheduler_role_arn,
            "SCHEDULE_DLQ_ARN": self.schedule_dlq_arn,
            "BODY_BUCKET_NAME": self.body_bucket_name,
        }

    def client(self, service: str) -> Any:
        return aws_client(service, self.endpoint_url, self.region)


def create_resources(endpoint_url: str, *, name_prefix: str = "intercom-events-local") -> LocalAws:
    """Creates the table, the queue with its dead-letter queue, the KMS key, the schedule group and
    the schedules' dead-letter queue; names are unique."""
    prefix = f"{name_prefix}-{uuid.uuid4().hex[:8]}"
    dynamodb = aws_client("dynamodb", endpoint_url)
    sqs = aws_client("sqs", endpoint_url)
    kms = aws_client("kms", endpoint_url)
    scheduler = aws_client("scheduler", endpoint_url)

    table_name = f"{prefix}-Table"
    dynamodb.create_table(
        TableName=table_name,
        BillingMode=TABLE_BILLING_MODE,
        KeySchema=TABLE_KEY_SCHEMA,
        AttributeDefinitions=TABLE_ATTRIBUTE_DEFINITIONS,
        GlobalSecondaryIndexes=TABLE_GLOBAL_SECONDARY_INDEXES,
    )
    dynamodb.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TABLE_TTL_ATTRIBUTE},
    )

    dlq_url = sqs.create_queue(
        QueueName=f"{prefix}-CallbackDeadLetterQueue",
        Attributes={"MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS)},
    )["QueueUrl"]
    dlq_arn = _queue_arn(sqs, dlq_url)
    queue_url = sqs.create_queue(
        QueueName=f"{prefix}-CallbackQueue",
        Attributes={
            "VisibilityTimeout": str(QUEUE_VISIBILITY_TIMEOUT_SECONDS),
            "MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": QUEUE_MAX_RECEIVE_COUNT}
            ),
        },
    )["QueueUrl"]

    key_id = kms.create_key(
        Description=f"{prefix} secrets at rest", KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT"
    )["KeyMetadata"]["KeyId"]

    schedule_group_name = f"{prefix}-Schedules"
    scheduler.create_schedule_group(Name=schedule_group_name)
    schedule_dlq_url = sqs.create_queue(
        QueueName=f"{prefix}-ScheduleDeadLetterQueue",
        Attributes={"MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS)},
    )["QueueUrl"]

    # Callback jobs too large for one SQS message (lower-case: S3 bucket names allow nothing else).
    body_bucket_name = f"{prefix}-bodies".lower()
    aws_client("s3", endpoint_url).create_bucket(Bucket=body_bucket_name)

    return LocalAws(
        endpoint_url=endpoint_url,
        table_name=table_name,
        queue_url=queue_url,
        queue_arn=_queue_arn(sqs, queue_url),
        dlq_url=dlq_url,
        dlq_arn=dlq_arn,
        kms_key_id=key_id,
        schedule_group_name=schedule_group_name,
        schedule_dlq_url=schedule_dlq_url,
        schedule_dlq_arn=_queue_arn(sqs, schedule_dlq_url),
        poller_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{prefix}-PollerFunction",
        scheduler_role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{prefix}-SchedulerRole",
        body_bucket_name=body_bucket_name,
    )


def start_local_aws(server: MotoServer | None = None) -> LocalAws:
    """The resources on the given server, or on the process's shared one."""
    return create_resources((server or shared_moto_server()).start().endpoint_url)


def _queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attributes["QueueArn"])
