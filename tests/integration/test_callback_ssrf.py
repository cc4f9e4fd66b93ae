"""The connect-time SSRF guard end to end (SPEC §6, issue #4): the dispatcher with real queue batches and
the loopback receiver, and the guarded transport against a real TLS server on loopback."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from intercom_events.callbacks import guard
from intercom_events.callbacks.client import GuardedTransport
from intercom_events.config import settings
from intercom_events.store import deliveries
from intercom_events.store import instances as instance_store

from local.receiver import Reply
from tests.conftest import callback_job, http_answer, load_event
from tests.integration.conftest import enqueue

INSTANCE_ID = 1


# --- the dispatcher: a stored callback URL that now leads to a non-public address ---------------------


def store_callback_url(url: str) -> None:
    """Write the URL straight to the table, past the save-time check: as if its DNS answer changed later."""
    stored = instance_store.get(INSTANCE_ID)
    assert stored is not None
    configuration = {**stored.configuration, "event.notification.callback.url": url}
    instance_store.save(stored.model_copy(update={"configuration": configuration}))


def open_no_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deployed default: no host is opened by the allow-list."""
    monkeypatch.setenv("CALLBACK_ALLOWED_HOSTS", "")
    settings.cache_clear()


@pytest.fixture
def instance(api: Any) -> None:
    assert http_answer(api, load_event("api/create_instance_token.json"))[0] == 200


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_callback_url_leading_to_loopback_is_never_dialled(
    aws, instance, receiver, worker, monkeypatch, host
) -> None:
    store_callback_url(receiver.url.replace("127.0.0.1", host) + "/callbacks")
    open_no_hosts(monkeypatch)
    job = callback_job(f"notif_ssrf_{host}")
    enqueue(aws, job)

    assert worker.drain_once().failed_ids

    assert receiver.requests == []
    record = deliveries.get(INSTANCE_ID, job["eventId"])
    assert record is not None
    assert record["status"] == "retrying" and record["attempts"] == 1
    assert record["lastError"].startswith("CallbackHostRefused: ") and "lastResponseCode" not in record


def test_on_the_last_attempt_a_refused_callback_is_failed(
    aws, instance, receiver, worker, monkeypatch
) -> None:
    store_callback_url(f"{receiver.url}/callbacks")
    open_no_hosts(monkeypatch)
    job = callback_job("notif_ssrf_last")
    enqueue(aws, job)
    sqs = aws.client("sqs")
    for _ in range(8):  # the eight earlier attempts, as far as SQS's receive count knows
        sqs.receive_message(QueueUrl=aws.queue_url, VisibilityTimeout=0)

    assert worker.drain_once().failed_ids

    assert receiver.requests == []
    record = deliveries.get(INSTANCE_ID, job["eventId"])
    assert record is not None
    assert record["status"] == "failed" and record["lastError"].startswith("CallbackHostRefused: ")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_with_the_allow_list_the_same_callback_is_delivered(aws, instance, receiver, worker, host) -> None:
    store_callback_url(receiver.url.replace("127.0.0.1", host) + "/callbacks")
    job = callback_job(f"notif_allowed_{host}")
    enqueue(aws, job)

    assert worker.drain_once().failed_ids == []

    [request] = receiver.wait_for(1)
    assert request.path == "/callbacks" and request.json()["message"]["eventId"] == job["eventId"]
    record = deliveries.get(INSTANCE_ID, job["eventId"])
    assert record is not None and record["status"] == "delivered"


def test_a_redirect_to_a_private_address_is_not_followed(aws, instance, receiver, worker) -> None:
    # localhost is allow-listed here, so only the client's refusal to follow redirects keeps it out.
    port = receiver.url.rsplit(":", 1)[1]
    receiver.respond_with(
        [Reply(status=307, headers=(("Location", f"http://localhost:{port}/latest/meta-data/"),))]
    )
    store_callback_url(f"{receiver.url}/callbacks")
    job = callback_job("notif_ssrf_redirect")
    enqueue(aws, job)

    assert worker.drain_once().failed_ids

    assert [r.path for r in receiver.requests] == ["/callbacks"]
    record = deliveries.get(INSTANCE_ID, job["eventId"])
    assert record is not None and record["lastResponseCode"] == 307


# --- TLS: dialled at the vetted address, the server name and certificate check stay on the name -------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def issue_certificates(directory: Path, dns_name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for `dns_name`: (ca.pem, server.pem, server.key)."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("callback test CA"))
        .issuer_name(_name("callback test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


class TlsReceiver:
    """An HTTPS server on loopback recording the server name (SNI) and Host header of each request."""

    def __init__(self, certificate: Path, key: Path) -> None:
        self.server_names: list[str | None] = []
        self.hosts: list[str | None] = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                owner.hosts.append(self.headers.get("Host"))
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> TlsReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def loopback_counts_as_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only so a loopback server can stand in for a public one: 127.0.0.1 passes the address check."""
    public = guard.is_public_address
    loopback = ipaddress.ip_address("127.0.0.1")
    monkeypatch.setattr(guard, "is_public_address", lambda ip: ip == loopback or public(ip))


def send_over_tls(tmp_path: Path, certified_name: str) -> tuple[TlsReceiver, httpx.Response | Exception]:
    ca, certificate, key = issue_certificates(tmp_path, certified_name)
    trust = ssl.create_default_context(cafile=str(ca))

    async def resolve(host: str, port: int) -> list[str]:
        assert host == "callback.test"
        return ["127.0.0.1"]

    with TlsReceiver(certificate, key) as server:

        async def send() -> httpx.Response:
            transport = GuardedTransport(
                resolve=resolve, pool_factory=lambda: httpx.AsyncHTTPTransport(verify=trust)
            )
            async with httpx.AsyncClient(transport=transport, timeout=5) as client:
                return await client.post(f"https://callback.test:{server.port}/hook", content=b"{}")

        try:
            outcome: httpx.Response | Exception = asyncio.run(send())
        except httpx.HTTPError as exc:
            outcome = exc
    return server, outcome


def test_https_dials_the_vetted_address_with_sni_and_certificate_check_on_the_name(
    tmp_path: Path, loopback_counts_as_public: None
) -> None:
    server, outcome = send_over_tls(tmp_path, "callback.test")

    assert isinstance(outcome, httpx.Response) and outcome.status_code == 200
    assert server.server_names == ["callback.test"]
    assert server.hosts == [f"callback.test:{server.port}"]


def test_a_certificate_not_for_the_name_is_refused_although_the_address_was_vetted(
    tmp_path: Path, loopback_counts_as_public: None
) -> None:
    server, outcome = send_over_tls(tmp_path, "other.test")

    assert isinstance(outcome, httpx.ConnectError)
    assert "CERTIFICATE_VERIFY_FAILED" in str(outcome) and "callback.test" in str(outcome)
    assert server.hosts == []
