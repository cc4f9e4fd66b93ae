"""The simulated Intercom: OAuth token exchange, /me, and notifications signed as Intercom signs them."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from local.intercom import (
    IntercomRequest,
    IntercomResponse,
    OAuthApp,
    SimulatedIntercom,
    check_webhook_url,
    make_notification,
    route,
    send_webhook,
)
from local.receiver import CallbackReceiver

# SPEC §10: Intercom's scheme, a recomputed known answer.
KNOWN_BODY = (
    b'{"type":"notification_event","id":"notif_1","topic":"conversation.user.created","app_id":"abc",'
    b'"created_at":1700000000,"data":{"type":"notification_event_data","item":{"type":"conversation","id":"1"}}}'
)
KNOWN_SIGNATURE = "sha1=e0d6deaa5785a871c44a56b6c3138ce190b6cc98"


@pytest.fixture
def intercom() -> Iterator[SimulatedIntercom]:
    with SimulatedIntercom() as server:
        yield server


@pytest.fixture
def app(intercom: SimulatedIntercom) -> OAuthApp:
    return intercom.register_app("client-1", "secret-1")


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as server:
        yield server


def exchange(intercom: SimulatedIntercom, **fields: str) -> httpx.Response:
    return httpx.post(f"{intercom.url}/auth/eagle/token", data=fields)


def test_a_good_code_is_exchanged_for_a_token(intercom: SimulatedIntercom, app: OAuthApp) -> None:
    code = intercom.authorize(app.client_id)

    response = exchange(intercom, code=code, client_id="client-1", client_secret="secret-1")

    assert response.status_code == 200
    body = response.json()
    assert body["token"] == body["access_token"]
    assert body["token_type"] == "Bearer"


def test_the_exchange_accepts_a_json_body(intercom: SimulatedIntercom, app: OAuthApp) -> None:
    code = intercom.authorize(app.client_id)

    response = httpx.post(
        f"{intercom.url}/auth/eagle/token",
        json={"code": code, "client_id": app.client_id, "client_secret": app.client_secret},
    )

    assert response.status_code == 200


def test_a_bad_code_is_an_error_list(intercom: SimulatedIntercom, app: OAuthApp) -> None:
    response = exchange(intercom, code="nope", client_id="client-1", client_secret="secret-1")

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error.list"
    assert body["errors"][0]["code"] == "invalid_grant"
    assert "secret-1" not in response.text


def test_a_code_works_once(intercom: SimulatedIntercom, app: OAuthApp) -> None:
    code = intercom.authorize(app.client_id)
    exchange(intercom, code=code, client_id="client-1", client_secret="secret-1")

    again = exchange(intercom, code=code, client_id="client-1", client_secret="secret-1")

    assert again.status_code == 400


def test_a_wrong_client_secret_is_refused(intercom: SimulatedIntercom, app: OAuthApp) -> None:
    code = intercom.authorize(app.client_id)

    response = exchange(intercom, code=code, client_id="client-1", client_secret="wrong")

    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "invalid_client"


def test_a_missing_parameter_is_named(intercom: SimulatedIntercom, app: OAuthApp) -> None:
    response = exchange(intercom, client_id="client-1", client_secret="secret-1")

    assert response.status_code == 400
    assert "code" in response.json()["errors"][0]["message"]


def test_me_answers_with_the_tokens_workspace(intercom: SimulatedIntercom, app: OAuthApp) -> None:
    code = intercom.authorize(app.client_id)
    token = exchange(intercom, code=code, client_id="client-1", client_secret="secret-1").json()["token"]

    response = httpx.get(f"{intercom.url}/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    me = response.json()
    assert me["type"] == "admin"
    assert me["app"]["id_code"] == intercom.workspace.app_id
    assert response.headers["x-ratelimit-limit"].isdigit()


def test_me_without_a_valid_token_is_a_401_error_list(intercom: SimulatedIntercom) -> None:
    response = httpx.get(f"{intercom.url}/me", headers={"Authorization": "Bearer nope"})

    assert response.status_code == 401
    assert response.json()["errors"] == [{"code": "unauthorized", "message": "Access Token Invalid"}]


def test_a_revoked_token_is_refused(intercom: SimulatedIntercom) -> None:
    token = intercom.issue_token()
    intercom.revoke_token(token)

    assert httpx.get(f"{intercom.url}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_scripted_failures_answer_the_next_calls(intercom: SimulatedIntercom) -> None:
    token = intercom.issue_token()
    intercom.fail_next(429, 500)
    headers = {"Authorization": f"Bearer {token}"}

    statuses = [httpx.get(f"{intercom.url}/me", headers=headers) for _ in range(3)]

    assert [r.status_code for r in statuses] == [429, 500, 200]
    assert statuses[0].json()["errors"][0]["code"] == "rate_limit_exceeded"
    assert "retry-after" not in statuses[0].headers


def test_over_the_rate_limit_is_a_429() -> None:
    with SimulatedIntercom(rate_limit_per_window=2) as intercom:
        headers = {"Authorization": f"Bearer {intercom.issue_token()}"}
        statuses = [httpx.get(f"{intercom.url}/me", headers=headers).status_code for _ in range(3)]

    # A window boundary between two calls resets the count; the third call may land in a new window.
    assert statuses[:2] == [200, 200]
    assert statuses[2] in (200, 429)


def test_unknown_paths_are_404_error_lists(intercom: SimulatedIntercom) -> None:
    response = httpx.get(f"{intercom.url}/nothing")

    assert response.status_code == 404
    assert response.json()["type"] == "error.list"


def test_the_consent_page_redirects_with_a_usable_code(intercom: SimulatedIntercom, app: OAuthApp) -> None:
    response = httpx.get(
        f"{intercom.url}/oauth",
        params={"client_id": app.client_id, "redirect_uri": "http://127.0.0.1:9/cb", "state": "s1"},
    )

    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == ["s1"]
    token = exchange(intercom, code=query["code"][0], client_id="client-1", client_secret="secret-1")
    assert token.status_code == 200


def test_requests_are_recorded(intercom: SimulatedIntercom) -> None:
    httpx.get(f"{intercom.url}/me?x=1", headers={"Intercom-Version": "2.15"})

    [request] = intercom.requests
    assert (request.method, request.path, request.query) == ("GET", "/me", "x=1")
    assert request.header("intercom-version") == "2.15"


def test_a_subclass_adds_routes() -> None:
    class WithContacts(SimulatedIntercom):
        @route("GET", r"/contacts/(?P<contact_id>[^/]+)")
        def get_contact(self, request: IntercomRequest) -> IntercomResponse:
            assert request.workspace is not None
            return IntercomResponse(200, request.workspace.contacts[request.params["contact_id"]])

    with WithContacts() as intercom:
        intercom.workspace.contacts["c1"] = {"type": "contact", "id": "c1"}
        headers = {"Authorization": f"Bearer {intercom.issue_token()}"}
        response = httpx.get(f"{intercom.url}/contacts/c1", headers=headers)

    assert response.json() == {"type": "contact", "id": "c1"}


def test_a_webhook_is_signed_as_intercom_signs(receiver: CallbackReceiver) -> None:
    response = send_webhook(f"{receiver.url}/events/intercom/NDEw", KNOWN_BODY, "intercom_secret")

    assert response.status_code == 200
    [request] = receiver.requests
    assert request.body == KNOWN_BODY
    assert request.header("X-Hub-Signature") == KNOWN_SIGNATURE
    assert request.header("Content-Type") == "application/json"
    assert request.header("User-Agent") == "Intercom-Webhooks-Bot"


def test_a_notification_dict_is_sent_as_compact_json(receiver: CallbackReceiver) -> None:
    notification = make_notification("contact.user.created", {"type": "contact", "id": "c1"}, app_id="abc")

    send_webhook(receiver.url, notification, "s3cret")

    [request] = receiver.requests
    assert request.json() == notification
    assert b": " not in request.body
    expected = hmac.new(b"s3cret", request.body, hashlib.sha1).hexdigest()
    assert request.header("X-Hub-Signature") == f"sha1={expected}"


def test_a_wrong_signature_can_be_sent_on_purpose(receiver: CallbackReceiver) -> None:
    send_webhook(receiver.url, KNOWN_BODY, "intercom_secret", signature="sha1=0000")

    assert receiver.requests[0].header("X-Hub-Signature") == "sha1=0000"


def test_the_url_check_is_a_head(receiver: CallbackReceiver) -> None:
    check_webhook_url(f"{receiver.url}/events/intercom/NDEw")

    assert receiver.requests[0].method == "HEAD"
