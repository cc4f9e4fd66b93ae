"""Instance management: create (with the OAuth code exchange), read, change, enable, delete."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..callbacks.guard import CallbackUrlError, check_callback_url
from ..callbacks.signing import RESERVED_HEADERS
from ..config import settings
from ..dates import utc_iso
from ..errors import BadRequest, Gone, NotFound
from ..intercom import oauth
from ..models.instance import (
    ELEMENT_KEY,
    INTERNAL_KEYS,
    KNOWN_KEYS,
    MASK,
    PREVIOUS_SIGNATURE_KEY,
    PREVIOUS_SIGNATURE_KEY_UNTIL,
    CreateInstanceBody,
    DeliveryState,
    Instance,
    InstanceAnswer,
    InstanceConfig,
    PatchInstanceBody,
    is_secret_key,
    parse_config,
    settled,
)
from ..models.poller_config import PollerStatus, parse_poller_configuration
from ..observability import logger
from ..store import cursors, deliveries, schedules
from ..store import instances as store
from . import breaker
from .auth import Caller, new_token, token_hash


def webhook_path(instance_id: int) -> str:
    return "/events/intercom/" + base64.b64encode(str(instance_id).encode()).decode()


def answer(instance: Instance, api_base_url: str, token: str | None = None) -> InstanceAnswer:
    config = instance.config
    # A polling instance shows its poller's state: one read, and none for webhook instances.
    status = cursors.status(instance.id) if config.vendor_type == "polling" else None
    # Its deliveries' state (circuit breaker, suspension): one read, shown only when not plain.
    delivery = breaker.public_status(deliveries.state(instance.id), datetime.now(UTC))
    return InstanceAnswer(
        id=instance.id,
        name=instance.name,
        token=token,
        tags=instance.tags,
        disabled=instance.disabled,
        eventsEnabled=config.events_enabled,
        eventsNotificationCallbackUrl=config.callback_url,
        webhookUrl=api_base_url + webhook_path(instance.id),
        configuration=instance.public_configuration(),
        createdDate=instance.created_date,
        updatedDate=instance.updated_date or instance.created_date,
        pollerStatus=PollerStatus.from_record(status) if status else None,
        deliveryStatus=DeliveryState.model_validate(delivery) if delivery else None,
    )


# Callback headers a configuration may not name, besides the ones each callback sets (RESERVED_HEADERS,
# and Authorization when Basic auth is configured): hop-by-hop ones, which would change how the request
# travels. Refused when saved, so that no instance carries one to the dispatcher.
HOP_BY_HOP_HEADERS = frozenset({"te", "trailer", "upgrade", "keep-alive", "proxy-connection", "expect"})


def _validate_headers(config: InstanceConfig) -> None:
    refused = RESERVED_HEADERS | HOP_BY_HOP_HEADERS | ({"authorization"} if config.basic_auth else set())
    errors = [
        {
            "field": f"configuration.event.notification.callback.headers.{name}",
            "message": "set by each callback itself"
            + (" (from the event.notification.basic settings)" if name.lower() == "authorization" else ""),
        }
        for name in config.callback_headers
        if name.lower() in refused
    ]
    if errors:
        raise BadRequest("Invalid callback headers", errors)


def _validate_events(config: InstanceConfig) -> None:
    _validate_headers(config)
    if config.events_enabled and config.vendor_type == "polling":
        parse_poller_configuration(config.poller_configuration, config.event_objects)
    if not (config.events_enabled and config.callback_url):
        return
    deployment = settings()
    try:
        check_callback_url(
            config.callback_url,
            allowed_hosts=deployment.callback_allowed_hosts,
            allow_http=deployment.allow_http_callbacks,
        )
    except CallbackUrlError as exc:
        raise BadRequest(
            "Invalid callback URL",
            [{"field": "configuration.event.notification.callback.url", "message": str(exc)}],
        ) from None


def consent_url(client_id: str, redirect_uri: str, state: str | None) -> str:
    return oauth.consent_url(client_id, redirect_uri, state)[0]


def create(caller: Caller, body: CreateInstanceBody, api_base_url: str) -> InstanceAnswer:
    key = body.element_key
    if not key:
        raise BadRequest("The element key is missing", [{"field": "element.key", "message": "required"}])
    if key.lower() != ELEMENT_KEY:
        raise NotFound(f"No element with key '{key[:64]}'")
    masked = sorted(_masked_secrets(body.configuration))
    if masked:
        # Copied from another instance's answer: the mask is not the secret, and would break this one.
        raise BadRequest(
            "A secret is the mask answers show",
            [{"field": f"configuration.{key}", "message": "send the secret itself"} for key in masked],
        )
    configuration, config = settled(body.configuration)
    _validate_events(config)
    if config.authentication_type == "oauth2":
        code = body.oauth_code
        if not code:
            raise BadRequest(
                "oauth2 needs the authorization code", [{"field": "providerData.code", "message": "required"}]
            )
        base = oauth.api_base_url(config.intercom_base_url)
        configuration["intercom.access.token"] = oauth.exchange_code(
            base, code, config.oauth_api_key or "", config.oauth_api_secret or ""
        )
    token = new_token()
    instance = Instance(
        id=store.next_id(),
        owner_id=caller.user.id,
        owner_name=caller.user.name,
        name=body.name,
        tags=body.tags,
        configuration=configuration,
        created_date=utc_iso(datetime.now(UTC)),
        token_hash=token_hash(token),
    )
    store.create(instance, instance.token_hash or "")
    _sync_schedule(instance, was_polling=False)
    logger.info("instance created", extra={"instance_id": instance.id, "vendor_type": config.vendor_type})
    return answer(instance, api_base_url, token=token)


def _masked_secrets(configuration: dict[str, Any]) -> set[str]:
    return {key for key, value in configuration.items() if value == MASK and is_secret_key(key)}


def get_owned(caller: Caller, instance_id: int) -> Instance:
    """Another user's instance, or one an Element token does not open, is a 404, as if it did not exist."""
    instance = store.get(instance_id) if caller.may_open(instance_id) else None
    if instance is None or instance.deleted or instance.owner_id != caller.user.id:
        raise NotFound(f"No instance with id {instance_id}")
    return instance


def list_owned(caller: Caller) -> list[Instance]:
    owned = store.list_owned(caller.user.id)
    return [i for i in owned if caller.may_open(i.id)]


def patch(caller: Caller, instance_id: int, body: PatchInstanceBody) -> Instance:
    instance = get_owned(caller, instance_id)
    now = datetime.now(UTC)
    changes: dict[str, Any] = {"updated_date": utc_iso(now)}
    if body.name is not None:
        changes["name"] = body.name
    if body.tags is not None:
        changes["tags"] = body.tags
    given = body.configuration
    if given is not None:
        # An answer shows each secret as the mask: a configuration sent back as it was read keeps them.
        masked = _masked_secrets(given)
        given = {k: v for k, v in given.items() if k not in masked}
        # Both maps have canonical keys: a key under any spelling replaces the stored one.
        configuration, config = settled(
            with_previous_key(instance.config, {**instance.configuration, **given}, now)
        )
        _validate_events(config)
        changes["configuration"] = configuration
        if configuration.get(PREVIOUS_SIGNATURE_KEY_UNTIL) != instance.configuration.get(
            PREVIOUS_SIGNATURE_KEY_UNTIL
        ):
            until = configuration.get(PREVIOUS_SIGNATURE_KEY_UNTIL)  # a date: the key itself is never logged
            message = "signature key overlap started" if until else "signature key overlap ended"
            logger.info(message, extra={"instance_id": instance_id, "previous_key_until": until})
    updated = instance.model_copy(update=changes)
    store.save(updated)
    _sync_schedule(updated, was_polling=_polls(instance))
    # Key names only, and of the client's own keys only how many: they are free text of any length.
    changed = given or {}
    known = sorted(k for k in changed if k in KNOWN_KEYS.values())
    logger.info(
        "instance changed",
        extra={"instance_id": instance_id, "keys": known, "other_keys": len(changed) - len(known)},
    )
    return updated


def with_previous_key(before: InstanceConfig, merged: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """`merged` (the stored configuration with a patch's keys) with the previous signature key as it
    must now be kept: when the key changes to another one, the key it replaces, until the overlap ends;
    a second change during an overlap keeps only the newest previous key. An expired previous key, or
    any once the overlap is set to 0 or the key removed, is dropped, so its signatures stop at once."""
    after = parse_config(dict(merged), saving=True)  # the same errors the save itself would give
    kept = {k: v for k, v in merged.items() if k not in INTERNAL_KEYS}
    overlap = timedelta(hours=after.signature_key_overlap_hours)
    previous, until = after.overlapping_signature_key(now), after.previous_signature_key_until
    if after.signature_key and before.signature_key and before.signature_key != after.signature_key:
        previous, until = before.signature_key, now + overlap
    if not (previous and until and overlap):
        return kept
    return kept | {PREVIOUS_SIGNATURE_KEY: previous, PREVIOUS_SIGNATURE_KEY_UNTIL: utc_iso(until)}


def set_enabled(caller: Caller, instance_id: int, enabled: bool) -> Instance:
    instance = get_owned(caller, instance_id)
    updated = instance.model_copy(
        update={"disabled": not enabled, "updated_date": utc_iso(datetime.now(UTC))}
    )
    store.save(updated)
    _sync_schedule(updated, was_polling=_polls(instance))
    logger.info("instance enabled" if enabled else "instance disabled", extra={"instance_id": instance_id})
    return updated


def delete(caller: Caller, instance_id: int) -> None:
    """Keep a tombstone so the webhook URL answers 410, and drop the token so it opens nothing."""
    instance = get_owned(caller, instance_id)
    store.save(instance.model_copy(update={"deleted": True, "updated_date": utc_iso(datetime.now(UTC))}))
    if _polls(instance):
        schedules.remove(instance_id)
    cancelled = cancel_undelivered(instance_id)
    if instance.token_hash:
        store.delete_token(instance.token_hash)
    logger.info("instance deleted", extra={"instance_id": instance_id, "events_cancelled": cancelled})


def cancel_undelivered(instance_id: int) -> int:
    """On delete: what was not delivered stays in the log as cancelled."""
    now = datetime.now(UTC)
    event_ids = list(deliveries.undelivered(instance_id))
    for event_id in event_ids:
        deliveries.record_status(instance_id, event_id, "cancelled", now, None, "instance deleted")
    return len(event_ids)


def _polls(instance: Instance) -> bool:
    config = instance.config
    return config.events_enabled and config.vendor_type == "polling"


def _sync_schedule(instance: Instance, was_polling: bool) -> None:
    """The schedule follows the instance: created, re-rated, paused or removed (one Scheduler call)."""
    if _polls(instance):
        if not was_polling:  # polling starts now: no poll sends a change from before (SPEC §7)
            started = datetime.fromisoformat(instance.updated_date or instance.created_date)
            cursors.start_polling(instance.id, started.timestamp())
        schedules.put(instance.id, instance.config.refresh_interval, enabled=not instance.disabled)
    elif was_polling:
        schedules.remove(instance.id)


def poll_now(caller: Caller, instance_id: int) -> None:
    instance = get_owned(caller, instance_id)
    if not _polls(instance):
        raise BadRequest("This instance does not poll: set event.vendor.type to polling with events enabled")
    if instance.disabled:
        raise BadRequest("This instance is disabled: enable it first")
    schedules.poll_now(instance_id, datetime.now(UTC))
    logger.info("poll requested", extra={"instance_id": instance_id})


def for_webhook(instance_id: int) -> Instance:
    instance = store.get(instance_id)
    if instance is None:
        raise NotFound("No instance for this webhook URL")
    if instance.deleted:
        raise Gone("This instance was deleted")
    return instance
