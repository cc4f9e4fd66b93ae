"""The management API, invoked in-process with the sample events of events/api/ (SPEC §3)."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
from intercom_events.store import instances as store

from tests.conftest import AUTH, OTHER_AUTH, http_answer, invoke, load_event

SECRETS = ("sample-client-secret", "sample-access-token", "sample-signature-key")


def _with(event: dict[str, Any], *, auth: str | None = None, body: Any = None, path: str | None = None):
    event = copy.deepcopy(event)
    if auth is not None:
        event["headers"]["authorization"] = auth
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    if path is not None:
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
    return event


def _create(api, body_changes: dict[str, Any] | None = None, auth: str = AUTH) -> tuple[int, Any]:
    event = load_event("api/create_instance_token.json")
    body = json.loads(event["body"])
    body.update(body_changes or {})
    return http_answer(api, _with(event, auth=auth, body=body))


def test_create_answers_the_instance_with_its_token_once_and_secrets_masked(api):
    status, body = http_answer(api, load_event("api/create_instance_token.json"))

    assert status == 200
    assert body["id"] == 1 and isinstance(body["id"], int)
    assert body["token"]
    assert body["element"] == {"key": "intercom"}
    assert body["eventsEnabled"] is True and body["disabled"] is False
    assert (
        body["webhookUrl"]
        == "https://abcdef1234.execute-api.us-east-1.amazonaws.com/elements/api-v2/events/intercom/MQ=="
    )
    assert body["configuration"]["oauth.api.secret"] == "********"
    assert body["configuration"]["intercom.access.token"] == "********"
    assert body["configuration"]["event.notification.signature.key"] == "********"
    status, again = http_answer(api, load_event("api/get_instance.json"))
    assert status == 200 and "token" not in again


def test_secrets_and_token_are_not_stored_in_clear(api, aws):
    _, created = http_answer(api, load_event("api/create_instance_token.json"))
    items = aws.client("dynamodb").scan(TableName=aws.table_name)["Items"]
    stored = json.dumps(items, default=str)
    for secret in (*SECRETS, created["token"]):
        assert secret not in stored


def test_ids_are_consecutive_whole_numbers(api):
    ids = [_create(api)[1]["id"] for _ in range(3)]
    assert ids == [1, 2, 3]


def test_the_seed_flat_body_with_string_values_and_configuration_as_json_string_is_accepted(api):
    event = load_event("api/create_instance_token.json")
    body = json.loads(event["body"])
    flat = {
        "key": "intercom",
        "name": "Flat",
        "configuration": json.dumps(
            {**body["configuration"], "event.vendor.type": "webhooks", "event.poller.refresh_interval": "5"}
        ),
    }
    status, created = http_answer(api, _with(event, body=flat))
    assert status == 200, created
    # Stored and answered as the instance reads them (SPEC §3 accepts the lax forms).
    assert created["configuration"]["event.vendor.type"] == "webhook"
    assert created["configuration"]["event.poller.refresh_interval"] == 5
    assert created["configuration"]["event.notification.enabled"] is True


def test_unknown_element_is_404(api):
    status, body = _create(api, {"element": {"key": "salesforce"}})
    assert status == 404
    assert "salesforce" in body["message"] and body["requestId"]


def test_malformed_configuration_is_400_naming_each_field(api):
    status, body = _create(
        api,
        {
            "configuration": {
                "authentication.type": "token",
                "intercom.access.token": "t",
                "event.poller.refresh_interval": 0,
                "intercom.region": "mars",
            }
        },
    )
    assert status == 400
    fields = {error["field"] for error in body["errors"]}
    assert "configuration.event.poller.refresh_interval" in fields
    assert "configuration.intercom.region" in fields


def test_malformed_json_body_is_400(api):
    status, body = http_answer(api, _with(load_event("api/create_instance_token.json"), body="{not json"))
    assert status == 400 and body["message"]


def test_callback_url_must_be_https_or_allowed(api, monkeypatch):
    from intercom_events.config import settings

    monkeypatch.setenv("ALLOW_HTTP_CALLBACKS", "false")
    monkeypatch.setenv("CALLBACK_ALLOWED_HOSTS", "")
    settings.cache_clear()
    configuration = json.loads(load_event("api/create_instance_token.json")["body"])["configuration"]
    for url in ("http://app.example.com/x", "https://127.0.0.1/x", "https://169.254.169.254/latest"):
        status, body = _create(
            api, {"configuration": {**configuration, "event.notification.callback.url": url}}
        )
        assert status == 400, url
        assert body["errors"][0]["field"] == "configuration.event.notification.callback.url"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "User dev-user-secret",
        "User wrong, Organization dev-organization-secret",
        "User dev-user-secret, Organization wrong",
        "Organization dev-organization-secret",
        "garbage",
    ],
)
def test_missing_or_wrong_authorization_is_401(api, header):
    event = load_event("api/list_instances.json")
    if header is None:
        del event["headers"]["authorization"]
    else:
        event["headers"]["authorization"] = header
    status, body = http_answer(api, event)
    assert status == 401
    assert "dev-user-secret" not in json.dumps(body)


def test_authorization_parts_in_any_order_and_any_case(api):
    status, _ = http_answer(
        api,
        _with(
            load_event("api/list_instances.json"),
            auth="organization dev-organization-secret,USER dev-user-secret",
        ),
    )
    assert status == 200


def test_another_users_instance_is_404_and_not_listed(api):
    http_answer(api, load_event("api/create_instance_token.json"))
    assert http_answer(api, _with(load_event("api/get_instance.json"), auth=OTHER_AUTH))[0] == 404
    assert http_answer(api, _with(load_event("api/list_instances.json"), auth=OTHER_AUTH))[1] == []
    assert http_answer(api, _with(load_event("api/delete_instance.json"), auth=OTHER_AUTH))[0] == 404


def test_element_token_opens_only_its_own_instance(api):
    _, first = http_answer(api, load_event("api/create_instance_token.json"))
    _create(api)
    element = f"User dev-user-secret, Element {first['token']}"
    assert http_answer(api, _with(load_event("api/get_instance.json"), auth=element))[0] == 200
    other = _with(load_event("api/get_instance.json"), auth=element, path="/elements/api-v2/instances/2")
    assert http_answer(api, other)[0] == 404
    listed = http_answer(api, _with(load_event("api/list_instances.json"), auth=element))[1]
    assert [i["id"] for i in listed] == [1]
    # Element tokens cannot create instances.
    assert _create(api, auth=element)[0] == 401


def test_open_connectors_enabled_route_uses_the_element_token(api):
    _, created = http_answer(api, load_event("api/create_instance_token.json"))
    event = _with(
        load_event("api/disable_instance.json"),
        auth=f"User dev-user-secret, Element {created['token']}",
        path="/elements/api-v2/instances/enabled",
    )
    status, body = http_answer(api, event)
    assert status == 200 and body["disabled"] is True


def test_list_patch_disable_enable(api):
    http_answer(api, load_event("api/create_instance_token.json"))
    assert [i["id"] for i in http_answer(api, load_event("api/list_instances.json"))[1]] == [1]

    status, patched = http_answer(api, load_event("api/patch_instance.json"))
    assert status == 200
    assert patched["name"] == "Renamed instance" and patched["tags"] == ["support", "vip"]
    assert patched["configuration"]["event.objects"] == "contacts"
    # Merged, not replaced: the other keys (and the sealed secrets) survive.
    assert (
        patched["configuration"]["event.notification.callback.url"]
        == "https://app.example.com/intercom-events"
    )
    assert patched["configuration"]["oauth.api.secret"] == "********"

    assert http_answer(api, load_event("api/disable_instance.json"))[1]["disabled"] is True
    assert http_answer(api, load_event("api/enable_instance.json"))[1]["disabled"] is False


def test_patch_with_an_invalid_change_is_400_and_changes_nothing(api):
    http_answer(api, load_event("api/create_instance_token.json"))
    event = _with(
        load_event("api/patch_instance.json"), body={"configuration": {"event.poller.refresh_interval": "x"}}
    )
    assert http_answer(api, event)[0] == 400
    assert (
        http_answer(api, load_event("api/get_instance.json"))[1]["configuration"].get(
            "event.poller.refresh_interval"
        )
        is None
    )


def test_delete_hides_the_instance_and_its_webhook_url_answers_410(api):
    _, created = http_answer(api, load_event("api/create_instance_token.json"))
    assert http_answer(api, load_event("api/delete_instance.json"))[0] == 200
    assert http_answer(api, load_event("api/get_instance.json"))[0] == 404
    assert http_answer(api, load_event("api/webhook_contact_created.json"))[0] == 410
    token_auth = f"User dev-user-secret, Element {created['token']}"
    assert http_answer(api, _with(load_event("api/get_instance.json"), auth=token_auth))[0] == 401


def test_health_needs_no_authorization(api):
    assert http_answer(api, load_event("api/health.json")) == (200, {"status": "ok"})


def test_openapi_document_and_swagger_are_served(api):
    status, document = http_answer(api, load_event("api/openapi.json"))
    assert status == 200
    assert "/elements/api-v2/instances" in document["paths"]
    swagger = _with(load_event("api/openapi.json"), path="/elements/api-v2/swagger")
    answer = invoke(api, swagger)
    assert answer["statusCode"] == 200 and "swagger" in answer["body"].lower()


def test_oauth_url_generates_intercom_consent_url(api):
    status, body = http_answer(api, load_event("api/oauth_url.json"))
    assert status == 200
    assert body["element"] == "intercom"
    assert body["oauthUrl"].startswith("https://app.intercom.com/oauth?client_id=sample-client-id&")
    assert "state=xyz" in body["oauthUrl"] and "sample-client-secret" not in body["oauthUrl"]
    event = load_event("api/oauth_url.json")
    event["rawQueryString"] = "apiKey=k&callbackUrl=https%3A%2F%2Fa.example.com"
    event["queryStringParameters"] = {"apiKey": "k", "callbackUrl": "https://a.example.com"}
    assert "state=" in http_answer(api, event)[1]["oauthUrl"]


def test_the_consent_url_is_the_simulated_intercoms_when_intercom_api_base_url_names_one(api, intercom):
    status, body = http_answer(api, load_event("api/oauth_url.json"))

    assert status == 200
    assert body["oauthUrl"].startswith(f"{intercom.url}/oauth?client_id=sample-client-id&")


def test_unknown_route_is_json_404(api):
    status, body = http_answer(api, _with(load_event("api/health.json"), path="/elements/api-v2/nothing"))
    assert status == 404 and body["message"]


def test_oauth2_create_exchanges_the_code_with_intercom(api, intercom, aws):
    status, body = http_answer(api, load_event("api/create_instance.json"))

    assert status == 200, body
    assert body["configuration"]["intercom.access.token"] == "********"
    [exchange] = [r for r in intercom.requests if r.path == "/auth/eagle/token"]
    assert exchange.method == "POST"
    # The token Intercom handed out is what the instance keeps (sealed), so /me answers with it.
    token = store.get(body["id"]).configuration["intercom.access.token"]
    me = httpx.get(f"{intercom.url}/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200


def test_a_refused_code_is_400_naming_intercoms_error_and_no_secret(api, intercom, aws):
    http_answer(api, load_event("api/create_instance.json"))  # the code is used up now
    status, body = http_answer(api, load_event("api/create_instance.json"))

    assert status == 400
    assert "invalid_grant" in body["message"]
    text = json.dumps(body)
    assert "sample-client-secret" not in text and "sample-oauth-code" not in text


def test_oauth2_without_a_code_is_400(api, aws):
    event = load_event("api/create_instance.json")
    body = json.loads(event["body"])
    del body["providerData"]
    status, answer = http_answer(api, _with(event, body=body))
    assert status == 400 and answer["errors"][0]["field"] == "providerData.code"


def test_the_create_answer_leaves_out_what_it_does_not_know_as_every_instance_answer_does(api, workspace):
    """No field is sent as null: a webhook instance without a callback shows neither the callback URL
    nor a poller status, a polling instance not polled yet only when it started polling."""
    configuration = {"authentication.type": "token", "intercom.access.token": "t", "oauth.api.secret": "s"}
    status, webhook = _create(api, {"configuration": configuration})
    assert status == 200, webhook
    status, polling = http_answer(api, _with(load_event("api/create_instance_polling.json")))
    assert status == 200, polling

    assert None not in webhook.values()
    assert "eventsNotificationCallbackUrl" not in webhook and "pollerStatus" not in webhook
    assert polling["pollerStatus"] == {"pollingSince": polling["createdDate"]}
    listed = {answer["id"]: answer for answer in http_answer(api, load_event("api/list_instances.json"))[1]}
    assert listed == {
        webhook["id"]: {k: v for k, v in webhook.items() if k != "token"},
        polling["id"]: {k: v for k, v in polling.items() if k != "token"},
    }
