"""The instance model's reading of configuration keys (no AWS): what the integration tests reach through
the API, here where the store's older data can be made up directly."""

from __future__ import annotations

import pytest
from intercom_events.models.instance import MASK, Instance

STORED = {"id": 1, "owner_id": 1, "owner_name": "developer", "name": "n", "tags": [], "created_date": "x"}


@pytest.mark.parametrize(
    "configuration",
    [
        {"signature_key": "old", "event.notification.signature.key": "new"},
        {"event.notification.signature.key": "new", "SIGNATURE.KEY": "old"},
    ],
)
def test_a_stored_map_with_two_spellings_of_a_key_reads_the_open_connectors_one(configuration):
    instance = Instance(
        **STORED, configuration={"authentication.type": "token", "access_token": "t", **configuration}
    )

    assert instance.configuration == {
        "authentication.type": "token",
        "intercom.access.token": "t",
        "event.notification.signature.key": "new",
    }
    assert instance.config.signature_key == "new" and instance.config.access_token == "t"
    assert instance.public_configuration()["event.notification.signature.key"] == MASK


def test_the_typed_configuration_is_read_once_and_a_copy_with_another_configuration_reads_its_own(
    monkeypatch,
):
    from intercom_events.models import instance as model

    reads = []
    parse = model.parse_config
    monkeypatch.setattr(model, "parse_config", lambda c, *a: reads.append(c) or parse(c, *a))
    configuration = {
        "authentication.type": "token",
        "intercom.access.token": "t",
        "event.notification.enabled": True,
        "event.vendor.type": "webhook",
        "oauth.api.secret": "sample-client-secret",
        "event.notification.callback.url": "https://app.example.com/intercom-events",
    }
    stored = Instance(**STORED, configuration=configuration)
    first = "https://app.example.com/intercom-events"
    assert stored.config.callback_url == first and stored.config.callback_url == first
    assert len(reads) == 1
    moved = {**configuration, "event.notification.callback.url": "https://app.example.com/moved"}
    changed = stored.model_copy(update={"configuration": moved})
    assert changed.config.callback_url == "https://app.example.com/moved"  # not the copied view
    assert stored.config.callback_url == first and len(reads) == 2
