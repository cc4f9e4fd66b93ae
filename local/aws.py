"""An embedded AWS: a moto server on loopback with the resources template.yaml declares.

The table, the queues, the key, the bucket, the schedule group and the event bus are made from the
template's own definitions (local/template.py reads them); the functions' and the role's ARNs, which
Scheduler's targets need, are well-formed but fake: nothing here checks them, and moto stores
schedules but never fires them, which local/scheduler.py does.
"""

from __future__ import annotations

import graphlib
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

from intercom_events.store.aws import new_client
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from local import REPO_ROOT
from local import template as cfn
from local.lambda_runtime import ACCOUNT_ID, REGION

FAKE_ACCESS_KEY_ID = "testing"
FAKE_SECRET_ACCESS_KEY = "testing"  # noqa: S105 - moto accepts any

# Resources the functions' variables may point at that exist only deployed: locally the secrets
# themselves come from the environment (ORGANIZATION_SECRET, USER_SECRET), so their ARNs stay unset.
DEPLOYED_ONLY = frozenset({"AWS::SecretsManager::Secret"})


def aws_client(service: str, endpoint_url: str | None, region: str = REGION) -> Any:
    """A boto3 client for the local endpoint with fake credentials, whatever the caller's profile says
    (no endpoint: AWS_ENDPOINT_URL, or moto's in-process mock)."""
    return new_client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=FAKE_ACCESS_KEY_ID,
        aws_secret_access_key=FAKE_SECRET_ACCESS_KEY,
    )


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


# Where each of LocalAws's names comes from in template.yaml: (logical id, attribute; None for !Ref).
TEMPLATE_RESOURCES: dict[str, tuple[str, str | None]] = {
    "table_name": ("Table", None),
    "queue_url": ("CallbackQueue", None),
    "queue_arn": ("CallbackQueue", "Arn"),
    "dlq_url": ("CallbackDeadLetterQueue", None),
    "dlq_arn": ("CallbackDeadLetterQueue", "Arn"),
    "kms_key_id": ("EncryptionKey", None),
    "schedule_group_name": ("PollScheduleGroup", None),
    "schedule_dlq_url": ("ScheduleDeadLetterQueue", None),
    "schedule_dlq_arn": ("ScheduleDeadLetterQueue", "Arn"),
    "poller_function_arn": ("PollerFunction", "Arn"),
    "scheduler_role_arn": ("SchedulerRole", "Arn"),
    "body_bucket_name": ("BodyBucket", None),
    "event_bus_name": ("OperationsBus", None),
}


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
    event_bus_name: str
    region: str = REGION
    stack_name: str = "intercom-events-local"

    def lookup(self, logical_id: str, attribute: str | None) -> str:
        """What `!Ref logical_id` (attribute None) or `!GetAtt logical_id.attribute` is here."""
        for name, reference in TEMPLATE_RESOURCES.items():
            if reference == (logical_id, attribute):
                return str(getattr(self, name))
        pseudo = cfn.pseudo_parameters(self.stack_name)
        if attribute is None and logical_id in pseudo:
            return pseudo[logical_id]
        raise cfn.TemplateError(f"the local stack has no value for {_reference_text(logical_id, attribute)}")

    def resource_variables(self, function: str | None = None) -> dict[str, str]:
        """The template's variables that name a resource, resolved to the ones here: one function's
        (by name or logical id), or every function's. Those naming a deployed-only resource are left out."""
        chosen = [cfn.function(function)] if function else list(cfn.functions().values())
        found: dict[str, str] = {}
        for settings in chosen:
            for name, value in settings.variables.items():
                kinds = {cfn.resource_type(r) for r in cfn.references(value)} - {None}
                if not kinds or kinds & DEPLOYED_ONLY:
                    continue
                resolved = str(cfn.resolve(value, self.lookup))
                if found.setdefault(name, resolved) != resolved:
                    raise cfn.TemplateError(f"{name} differs between functions; the local stack sets it once")
        return found

    def function_variables(self, function: str) -> dict[str, str]:
        """Every variable one function declares (Globals' and its own), resolved here: a parameter to its
        default, a deployed-only resource to "" (the local stand-ins serve instead), the rest to ours."""
        parameters = cfn.load().get("Parameters", {})

        def lookup(logical_id: str, attribute: str | None) -> str:
            if attribute is None and logical_id in parameters:
                return str(parameters[logical_id].get("Default", ""))
            if cfn.resource_type(logical_id) in DEPLOYED_ONLY:
                return ""
            return self.lookup(logical_id, attribute)

        return {
            name: str(cfn.resolve(value, lookup)) for name, value in cfn.function(function).variables.items()
        }

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
            **self.resource_variables(),
        }

    def client(self, service: str) -> Any:
        return aws_client(service, self.endpoint_url, self.region)


def create_resources(endpoint_url: str, *, name_prefix: str = "intercom-events-local") -> LocalAws:
    """Makes template.yaml's tables, queues, keys, buckets, schedule groups and event buses as it defines
    them, named `<name_prefix>-<8 hex digits>-<logical id>` (unique per call); no endpoint: moto's
    in-process mock."""
    maker = _ResourceMaker(endpoint_url, f"{name_prefix}-{uuid.uuid4().hex[:8]}")
    maker.make_all()
    names = {name: maker.lookup(*reference) for name, reference in TEMPLATE_RESOURCES.items()}
    return LocalAws(endpoint_url=endpoint_url, stack_name=maker.stack_name, **names)


def start_local_aws(server: MotoServer | None = None) -> LocalAws:
    """The resources on the given server, or on the process's shared one."""
    return create_resources((server or shared_moto_server()).start().endpoint_url)


# Queue properties that are SQS attributes of the same name and meaning.
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
)
# Table properties that are CreateTable arguments of the same name and shape.
_TABLE_ARGUMENTS = (
    "AttributeDefinitions",
    "BillingMode",
    "GlobalSecondaryIndexes",
    "KeySchema",
    "LocalSecondaryIndexes",
    "ProvisionedThroughput",
)

# What a resource is known by: its !Ref value under None, its attributes by name.
_Values = dict[str | None, str]


class _ResourceMaker:
    """Makes the template's resources in dependency order (a queue after its dead-letter queue).

    Only what changes behaviour is carried over: keys, indexes, TTL, queue timeouts and redrive.
    Encryption, backups, deletion protection, public-access blocks and policies are deployment
    concerns moto does not enforce, and left out.
    """

    def __init__(self, endpoint_url: str | None, stack_name: str) -> None:
        self.endpoint_url = endpoint_url
        self.stack_name = stack_name
        self.template = cfn.load()
        self.values: dict[str, _Values] = {}
        self._makers: dict[str, Callable[[str, Mapping[str, Any]], _Values]] = {
            "AWS::KMS::Key": self._key,
            "AWS::DynamoDB::Table": self._table,
            "AWS::SQS::Queue": self._queue,
            "AWS::S3::Bucket": self._bucket,
            "AWS::Scheduler::ScheduleGroup": self._schedule_group,
            "AWS::Events::EventBus": self._event_bus,
        }
        # Named but not made: Scheduler's target and role must be ARNs, and nothing here checks them.
        self._fakes: dict[str, Callable[[str], _Values]] = {
            "AWS::Serverless::Function": lambda name: {
                None: name,
                "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
            },
            "AWS::IAM::Role": lambda name: {None: name, "Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"},
        }

    def make_all(self) -> None:
        made: dict[str, tuple[str, dict[str, Any]]] = {}
        for logical_id, resource in self.template["Resources"].items():
            kind = str(resource.get("Type"))
            if kind in self._fakes:
                self.values[logical_id] = self._fakes[kind](self._name(logical_id))
            elif kind in self._makers:
                made[logical_id] = (kind, dict(resource.get("Properties", {})))
        order = graphlib.TopologicalSorter(
            {
                logical_id: cfn.references(properties) & made.keys()
                for logical_id, (_, properties) in made.items()
            }
        )
        try:
            ordered = list(order.static_order())
        except graphlib.CycleError as error:
            raise cfn.TemplateError(
                f"template.yaml's resources refer to each other in a cycle: {error.args[1]}"
            ) from None
        for logical_id in ordered:
            kind, properties = made[logical_id]
            self.values[logical_id] = self._makers[kind](logical_id, properties)

    def lookup(self, logical_id: str, attribute: str | None) -> str:
        if attribute is None:
            pseudo = cfn.pseudo_parameters(self.stack_name)
            if logical_id in pseudo:
                return pseudo[logical_id]
            parameter = self.template.get("Parameters", {}).get(logical_id)
            if parameter is not None:
                return str(parameter.get("Default", ""))
        value = self.values.get(logical_id, {}).get(attribute)
        if value is None:
            raise cfn.TemplateError(f"the local stack does not make {_reference_text(logical_id, attribute)}")
        return value

    def _resolve(self, value: Any) -> Any:
        return cfn.resolve(value, self.lookup)

    def _name(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}"

    def _client(self, service: str) -> Any:
        return aws_client(service, self.endpoint_url)

    def _key(self, logical_id: str, properties: Mapping[str, Any]) -> _Values:
        metadata = self._client("kms").create_key(
            Description=str(self._resolve(properties.get("Description", logical_id))),
            KeySpec=str(properties.get("KeySpec", "SYMMETRIC_DEFAULT")),
            KeyUsage=str(properties.get("KeyUsage", "ENCRYPT_DECRYPT")),
        )["KeyMetadata"]
        return {None: metadata["KeyId"], "KeyId": metadata["KeyId"], "Arn": metadata["Arn"]}

    def _table(self, logical_id: str, properties: Mapping[str, Any]) -> _Values:
        dynamodb = self._client("dynamodb")
        name = self._name(logical_id)
        arguments = {key: self._resolve(properties[key]) for key in _TABLE_ARGUMENTS if key in properties}
        table = dynamodb.create_table(TableName=name, **arguments)["TableDescription"]
        ttl = self._resolve(properties.get("TimeToLiveSpecification", {}))
        if ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        return {None: name, "Arn": table["TableArn"]}

    def _queue(self, logical_id: str, properties: Mapping[str, Any]) -> _Values:
        sqs = self._client("sqs")
        name = self._name(logical_id)
        attributes = {
            key: str(self._resolve(properties[key])) for key in _QUEUE_ATTRIBUTES if key in properties
        }
        if "RedrivePolicy" in properties:
            attributes["RedrivePolicy"] = json.dumps(self._resolve(properties["RedrivePolicy"]))
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return {None: url, "QueueUrl": url, "QueueName": name, "Arn": arn}

    def _bucket(self, logical_id: str, properties: Mapping[str, Any]) -> _Values:
        name = self._name(logical_id).lower()  # S3 bucket names allow nothing else
        self._client("s3").create_bucket(Bucket=name)
        return {None: name, "Arn": f"arn:aws:s3:::{name}"}

    def _schedule_group(self, logical_id: str, properties: Mapping[str, Any]) -> _Values:
        name = str(self._resolve(properties.get("Name", self._name(logical_id))))
        arn = self._client("scheduler").create_schedule_group(Name=name)["ScheduleGroupArn"]
        return {None: name, "Arn": arn}

    def _event_bus(self, logical_id: str, properties: Mapping[str, Any]) -> _Values:
        name = str(self._resolve(properties.get("Name", self._name(logical_id))))
        arn = self._client("events").create_event_bus(Name=name)["EventBusArn"]
        return {None: name, "Name": name, "Arn": arn}


def _reference_text(logical_id: str, attribute: str | None) -> str:
    return f"!Ref {logical_id}" if attribute is None else f"!GetAtt {logical_id}.{attribute}"
