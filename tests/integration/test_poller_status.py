"""The poller's state on the instance's answer (SPEC §7: "A 401 means the token was revoked: mark the
instance, raise an alarm, keep the cursor"): an operator sees Intercom's refusal on
GET /instances/{id} and in the list, not only in metrics and logs, until a poll is let in again.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tests.conftest import http_answer, load_event
from tests.integration.test_polling import TOKEN, run_poller


def shown(api) -> dict[str, Any]:
    status, answer = http_answer(api, load_event("api/get_instance.json"))
    assert status == 200, answer
    [listed] = http_answer(api, load_event("api/list_instances.json"))[1]
    assert listed["pollerStatus"] == answer["pollerStatus"]
    assert TOKEN not in json.dumps(answer)
    return dict(answer["pollerStatus"])


def test_a_revoked_token_shows_on_the_instance_until_a_poll_is_let_in_again(
    api, aws, poller, intercom, workspace
):
    status, created = http_answer(api, load_event("api/create_instance_polling.json"))
    assert status == 200, created
    assert shown(api) == {"pollingSince": created["createdDate"]}  # polling, not polled yet
    time.sleep(1.05)
    workspace.create("contacts")
    run_poller(poller)
    before = shown(api)
    assert before["outcome"] == "done" and before["events"]["contacts"] == 1
    assert "authorizationFailure" not in before

    intercom.revoke_token(TOKEN)
    run_poller(poller)
    refused = shown(api)
    assert refused["outcome"] == "unauthorized"
    failure = refused["authorizationFailure"]
    assert failure["date"] == refused["lastPollDate"] and "401" in failure["message"]

    time.sleep(1.05)
    run_poller(poller)  # refused again: the failure keeps the time it began
    again = shown(api)
    assert again["authorizationFailure"] == failure and again["lastPollDate"] > failure["date"]

    intercom.issue_token(token=TOKEN)
    intercom.fail_next(503, 503, 503, 503)  # unavailable after its retries: says nothing of the token
    run_poller(poller)
    unavailable = shown(api)
    assert unavailable["outcome"] == "unavailable" and unavailable["authorizationFailure"] == failure

    run_poller(poller)
    recovered = shown(api)
    assert recovered["outcome"] == "done" and "authorizationFailure" not in recovered


def test_an_instance_turned_to_webhooks_shows_no_poller_status(api, aws, poller, workspace):
    assert http_answer(api, load_event("api/create_instance_polling.json"))[0] == 200
    run_poller(poller)
    patch = load_event("api/patch_instance.json")
    patch["body"] = json.dumps({"configuration": {"event.vendor.type": "webhook", "oauth.api.secret": "s"}})

    status, answer = http_answer(api, patch)

    assert status == 200, answer
    assert "pollerStatus" not in answer
    assert "pollerStatus" not in http_answer(api, load_event("api/get_instance.json"))[1]
