"""The connector instance: Open Connectors' create body, its configuration keys, what we store and answer."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NoReturn

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from .. import json_body
from ..dates import utc_iso
from ..errors import BadRequest
from ..json_body import is_utf8
from .answers import Answer
from .base import Model
from .poller_config import PollerStatus

ELEMENT_KEY = "intercom"
MASK = "********"

# Configuration keys whose values are secrets: sealed with KMS at rest, masked in every answer, never logged.
# The callback headers count as one: they are where a receiver's own credential goes (`Authorization:
# Bearer ...`, `X-Api-Key`), so the whole map is sealed and answered as the mask.
SECRET_KEYS = frozenset(
    {
        "oauth.api.secret",
        "intercom.access.token",
        "event.notification.signature.key",
        "event.notification.basic.password",
        "event.notification.callback.headers",
        "event.notification.signature.key.previous",
    }
)

# Signature key rotation: when the key changes, the key it replaced goes on signing callbacks beside it
# until `.previous.until`. The service keeps these two when it saves the instance; a body naming either
# (under any spelling) is a 400, and answers leave them out. They live in the configuration map so the
# previous key is sealed with the other secrets (one KMS call, the same size check) and survives every
# writer of the item, including turn_events_off's one-attribute update.
PREVIOUS_SIGNATURE_KEY = "event.notification.signature.key.previous"
PREVIOUS_SIGNATURE_KEY_UNTIL = "event.notification.signature.key.previous.until"
INTERNAL_KEYS = frozenset({PREVIOUS_SIGNATURE_KEY, PREVIOUS_SIGNATURE_KEY_UNTIL})

# What the store can keep: the secrets sealed with KMS in one Encrypt call, the instance in one DynamoDB
# item. Beyond these a save would fail, so such a configuration is a 400, not a 500.
SEALED_SECRETS_MAX_BYTES = 4096  # KMS Encrypt's plaintext limit, the secrets as store.sealed seals them
CONFIGURATION_MAX_BYTES = 300_000  # of DynamoDB's 400 KB item; the rest is name, tags, sealed secrets
# A create or patch body leaves room for the access token that the OAuth exchange adds to the secrets.
BODY_SECRETS_MAX_BYTES = 3072
BODY_CONFIGURATION_MAX_BYTES = 100_000
NESTING_MAX = 30  # DynamoDB nests 32 levels deep; the item and the configuration map take two
TAG_MAX_LENGTH = 200
NAME_MAX_LENGTH = 200
# Refused when saved rather than kept to break the instance later (SPEC §3 is silent on these bounds).
KEY_MAX_LENGTH = 255  # a map key at any depth (DynamoDB refuses empty ones; no configuration needs long ones)
URL_MAX_LENGTH = 2048
REFRESH_INTERVAL_MAX = 10_080  # minutes: a week
# Longer would keep a replaced (perhaps leaked) key valid for longer than any redeploy needs.
SIGNATURE_KEY_OVERLAP_MAX = 168  # hours: a week
RATE_LIMIT_MAX = 1000  # callbacks a second: beyond it a limit would not hold a receiver back
# The circuit breaker (logic.breaker): defaults and the most a configuration may ask for.
BREAKER_FAILURES_DEFAULT = 10
BREAKER_FAILURES_MAX = 1000
BREAKER_COOLDOWN_DEFAULT = 60  # seconds
BREAKER_COOLDOWN_MAX = 3600  # seconds: also the longest cool-down the doubling reaches
HEADERS_MAX = 50
HEADER_NAME_MAX_LENGTH = 256
HEADER_VALUE_MAX_LENGTH = 2048  # sealed with the other secrets, 4 KB in all
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §5.6.2's token
HEADER_VALUE = re.compile(r"[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*")  # visible ASCII, SP/HTAB inside only
BEARER_TOKEN = re.compile(r"[\x21-\x7e]+")  # what an Authorization: Bearer header can carry
API_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")  # 2.11, Unstable, Preview

INTERCOM_HOSTS = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}


def normalized_key(key: str) -> str:
    """A configuration key as compared with the known ones: case, punctuation and spacing ignored and
    Unicode compatibility forms folded, so "oauth.api.secret", "oauth_api_secret", "OAUTH.API.SECRET" and
    "oauthApiSecret" are one key."""
    # NFKD splits accents off their letters ("óauth" is "o" + U+0301), so a decorated spelling is one too.
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", key)).casefold()
    return "".join(ch for ch in folded if ch.isascii() and ch.isalnum())


def lookalike_of(key: str) -> str | None:
    """The known key that `key` imitates with letters of another alphabet ("oauth.api.secret" with a
    Cyrillic o, U+043E), or None. Such a key would otherwise be a client's own, its value in the clear."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", key)).casefold()
    kept = [ch for ch in folded if ch.isalnum()]
    if all(ch.isascii() for ch in kept) or not any(ch.isascii() for ch in kept):
        return None  # one alphabet: a client's own key ("ключ", "регион"), or a known one
    # Each letter outside ASCII stands for any one letter of a known key's normalized form.
    pattern = re.compile("".join(re.escape(ch) if ch.isascii() else "." for ch in kept))
    return next((name for spelling, name in KNOWN_KEYS.items() if pattern.fullmatch(spelling)), None)


def has_secret(value: Any) -> bool:
    """Whether a secret key's value holds anything to seal and mask (an empty header map does not)."""
    return value not in (None, "", {})


def is_secret_key(key: str) -> bool:
    """Whether `key`, however spelled, names a secret (KNOWN_KEYS is filled below InstanceConfig)."""
    return KNOWN_KEYS.get(normalized_key(key)) in SECRET_KEYS


def _invalid(problems: list[tuple[tuple[str, ...], str]]) -> NoReturn:
    """Fail validation with one error per problem, each at its own place (loc) below the value's."""
    raise ValidationError.from_exception_data(
        "configuration",
        [
            InitErrorDetails(type=PydanticCustomError("invalid", message), loc=loc, input=None)
            for loc, message in problems
        ],
    )


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)  # C0, DEL and C1: tab, CR, LF, NUL...


def _key_problem(key: Any) -> str | None:
    if not isinstance(key, str) or not key:
        return "a key is empty"
    if len(key) > KEY_MAX_LENGTH:
        return f"a key is longer than {KEY_MAX_LENGTH} characters"
    if not is_utf8(key):
        return "a key is not valid Unicode text"
    return None


def _json_object(value: Any) -> Any:
    """Open Connectors accepts nested configuration either as an object or as a JSON string."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json_body.loads(value)  # the limits of a body: nothing nested in it escapes them
        except json_body.InvalidJSON as exc:
            raise ValueError(f"must be a JSON object ({exc.problem})") from None
    return value


def _storable(value: Any, depth: int = 0) -> Any:
    """A configuration value DynamoDB can keep and give back: finite numbers in its range and precision,
    valid Unicode text, map keys neither empty nor too long, not too deep."""
    if isinstance(value, str):
        if not is_utf8(value):
            raise ValueError("text must be valid Unicode (no lone surrogates)")
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if abs(value) >= 10**38:
            raise ValueError("numbers have at most 38 digits")
    elif isinstance(value, float):
        if not math.isfinite(value) or (value != 0 and not 1e-128 <= abs(value) < 1e125):
            raise ValueError("numbers must be finite and between 1e-128 and 1e125 in size")
    elif isinstance(value, dict | list):
        if depth >= NESTING_MAX:
            raise ValueError(f"values nest at most {NESTING_MAX} levels deep")
        if isinstance(value, dict):
            problem = next(filter(None, map(_key_problem, value)), None)
            if problem:
                raise ValueError(f"{problem} in a map inside this value")
        for child in value.values() if isinstance(value, dict) else value:
            _storable(child, depth + 1)
    return value


def _known_keys(value: Any) -> Any:
    """A configuration map with every known key under its Open Connectors name (unknown keys as given),
    so a secret is sealed and masked whatever spelling brought it in. Two spellings of one key with
    different values are refused, naming the key, never the values."""
    if not isinstance(value, dict):
        return value  # the type check names it
    canonical: dict[str, Any] = {}
    problems: list[tuple[tuple[str, ...], str]] = []
    for key, item in value.items():
        problem = _key_problem(key)
        if problem:
            problems.append(((), problem))
            continue
        imitated = lookalike_of(key)
        if imitated:
            problems.append(((), f"a key looks like {imitated} but has letters of another alphabet"))
            continue
        name = KNOWN_KEYS.get(normalized_key(key)) or str(key)
        if name in INTERNAL_KEYS:
            problems.append(
                ((name,), "kept by the service when the signature key changes, not set by a client")
            )
            continue
        if name in canonical and canonical[name] != item:
            problems.append(((name,), "given twice, under two spellings, with different values"))
        canonical[name] = item
    if problems:
        _invalid(problems)
    return canonical


def stored_keys(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """What `_known_keys` makes of a map stored before it was applied: no conflict is refused here, the
    key spelled as Open Connectors does wins (as it did when the typed view also read field names)."""
    canonical: dict[str, Any] = {}
    for key, item in configuration.items():
        name = KNOWN_KEYS.get(normalized_key(key), key)
        if name not in canonical or key == name:
            canonical[name] = item
    return canonical


ConfigurationValue = Annotated[Any, AfterValidator(_storable)]


def _saving(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("saving"))


def _no_control(value: str) -> str:
    if _has_control(value):
        raise ValueError("must not contain control characters")
    return value


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH),
    AfterValidator(_no_control),
]
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TAG_MAX_LENGTH),
    AfterValidator(_no_control),
]


def storage_problem(configuration: dict[str, Any], secrets_max: int, configuration_max: int) -> str | None:
    """Why `configuration` would not fit the store, or None. Sizes only: the message names no value."""
    secrets = {k: v for k, v in configuration.items() if is_secret_key(k) and has_secret(v)}
    if len(json.dumps(secrets).encode()) > secrets_max:
        return f"the secrets ({', '.join(sorted(secrets))}) take more than {secrets_max} bytes together"
    if len(json.dumps(configuration, ensure_ascii=False).encode()) > configuration_max:
        return f"the configuration takes more than {configuration_max} bytes"
    return None


def _fits_a_body(configuration: dict[str, Any]) -> dict[str, Any]:
    problem = storage_problem(configuration, BODY_SECRETS_MAX_BYTES, BODY_CONFIGURATION_MAX_BYTES)
    if problem:
        raise ValueError(problem)
    return configuration


# The configuration map of a create or patch body, its known keys under their Open Connectors names.
BodyConfiguration = Annotated[
    dict[str, ConfigurationValue], BeforeValidator(_known_keys), AfterValidator(_fits_a_body)
]


def _checked_headers(headers: dict[Any, Any]) -> dict[str, str]:
    """Extra callback headers that HTTP can carry: RFC 9110 names, visible-ASCII values. A problem is
    placed at the header's name when that is a valid name; no value is ever repeated."""
    problems: list[tuple[tuple[str, ...], str]] = []
    checked: dict[str, str] = {}
    if len(headers) > HEADERS_MAX:
        problems.append(((), f"at most {HEADERS_MAX} headers"))
    for position, (name, value) in enumerate(headers.items(), 1):
        valid_name = isinstance(name, str) and len(name) <= HEADER_NAME_MAX_LENGTH
        if not (valid_name and HEADER_NAME.fullmatch(name)):
            problems.append(
                (
                    (),
                    f"header {position}'s name is not an HTTP field name "
                    f"(RFC 9110 token characters, 1 to {HEADER_NAME_MAX_LENGTH})",
                )
            )
        elif name.lower() in {seen.lower() for seen in checked}:
            problems.append(((name,), "named twice, in different cases"))
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            problems.append(((name,), "must be a string"))
        else:
            text = str(value).strip(" \t")
            if len(text) > HEADER_VALUE_MAX_LENGTH or (text and not HEADER_VALUE.fullmatch(text)):
                problems.append(
                    (
                        (name,),
                        "must be visible ASCII, with spaces or tabs only inside, "
                        f"at most {HEADER_VALUE_MAX_LENGTH} characters",
                    )
                )
            else:
                checked[name] = text
    if problems:
        _invalid(problems)
    return checked


class InstanceConfig(Model):
    """The typed view of an instance's configuration map (keys as Open Connectors names them: a body's
    keys are made so on the way in, see `_known_keys`).

    Values may arrive as strings ("true", "15"): pydantic's lax mode turns them into bools and ints, and
    `stored_values` gives them back as this view reads them.
    """

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    authentication_type: Literal["oauth2", "token"] = Field("oauth2", alias="authentication.type")
    oauth_callback_url: str | None = Field(None, alias="oauth.callback.url")
    oauth_api_key: str | None = Field(None, alias="oauth.api.key")
    oauth_api_secret: str | None = Field(None, alias="oauth.api.secret")
    access_token: str | None = Field(None, alias="intercom.access.token")
    region: Literal["us", "eu", "au"] = Field("us", alias="intercom.region")
    api_version: str | None = Field(None, alias="intercom.api.version")
    events_enabled: bool = Field(False, alias="event.notification.enabled")
    vendor_type: Literal["webhook", "polling"] = Field("webhook", alias="event.vendor.type")
    callback_url: str | None = Field(None, alias="event.notification.callback.url")
    signature_key: str | None = Field(None, alias="event.notification.signature.key")
    signature_key_overlap_hours: int = Field(24, ge=0, alias="event.notification.signature.key.overlap.hours")
    previous_signature_key: str | None = Field(None, alias=PREVIOUS_SIGNATURE_KEY)
    previous_signature_key_until: datetime | None = Field(None, alias=PREVIOUS_SIGNATURE_KEY_UNTIL)
    callback_headers: dict[str, str] = Field(
        default_factory=dict, alias="event.notification.callback.headers"
    )
    basic_username: str | None = Field(None, alias="event.notification.basic.username")
    basic_password: str | None = Field(None, alias="event.notification.basic.password")
    rate_limit: float | None = Field(
        None,
        gt=0,
        le=RATE_LIMIT_MAX,
        allow_inf_nan=False,
        alias="event.notification.rate.limit",
        description="callbacks a second at most (fractions allowed: 0.5 is one every two seconds), across "
        "all dispatchers; absent or null: no limit",
    )
    event_objects: list[str] | None = Field(None, alias="event.objects")
    refresh_interval: int = Field(15, ge=1, alias="event.poller.refresh_interval")
    poller_configuration: dict[str, Any] | None = Field(None, alias="event.poller.configuration")
    breaker_failures: int = Field(
        BREAKER_FAILURES_DEFAULT,
        ge=0,
        le=BREAKER_FAILURES_MAX,
        alias="event.notification.breaker.failures",
        description="failed attempts in a row, across the instance's events, that open its circuit breaker "
        "(its events are then kept as queued, not sent, for a cool-down); 0 turns the breaker off",
    )
    breaker_cooldown_seconds: int = Field(
        BREAKER_COOLDOWN_DEFAULT,
        ge=1,
        le=BREAKER_COOLDOWN_MAX,
        alias="event.notification.breaker.cooldown.seconds",
        description="the open breaker's first cool-down before one event probes the receiver; each failed "
        f"probe doubles it, up to {BREAKER_COOLDOWN_MAX} seconds",
    )

    @field_validator("authentication_type", "region", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("vendor_type", mode="before")
    @classmethod
    def _vendor(cls, value: Any) -> Any:
        value = value.strip().lower() if isinstance(value, str) else value
        return "webhook" if value == "webhooks" else value

    # The checks marked "when saved" refuse what would break the instance later. They run on a create or
    # a patch (`settled`), not when a stored instance is read, so one saved before a check existed can
    # still be read, listed, changed and deleted.

    @field_validator("oauth_callback_url", "callback_url")
    @classmethod
    def _url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and _saving(info):
            if len(value) > URL_MAX_LENGTH:
                raise ValueError(f"must be at most {URL_MAX_LENGTH} characters")
            if _has_control(value):
                raise ValueError("must not contain control characters (tab, CR, LF...)")
        return value

    @field_validator("access_token")
    @classmethod
    def _bearer(cls, value: str | None, info: ValidationInfo) -> str | None:
        # When saved: it goes into the Authorization header of every call to Intercom.
        if value and _saving(info) and not BEARER_TOKEN.fullmatch(value):
            raise ValueError("must be visible ASCII characters, no spaces")
        return value

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str | None, info: ValidationInfo) -> str | None:
        # When saved: it goes into the Intercom-Version header of every call to Intercom.
        if value and _saving(info) and not API_VERSION.fullmatch(value):
            raise ValueError("must be an Intercom API version such as 2.11, Unstable or Preview")
        return value or None

    @field_validator("basic_username", "basic_password")
    @classmethod
    def _basic(cls, value: str | None, info: ValidationInfo) -> str | None:
        # When saved: RFC 7617 credentials hold no control characters, and the user-id no colon.
        if value and _saving(info):
            if info.field_name == "basic_username" and ":" in value:
                raise ValueError("must not contain ':' (RFC 7617)")
            _no_control(value)
        return value

    @field_validator("callback_headers", mode="before")
    @classmethod
    def _headers(cls, value: Any, info: ValidationInfo) -> Any:
        value = _json_object(value)
        if value is None:
            return {}
        if not isinstance(value, dict):
            return value  # the type check names it
        if _saving(info):
            return _checked_headers(value)
        return {str(k): str(v) for k, v in value.items()}

    @field_validator("poller_configuration", mode="before")
    @classmethod
    def _poller(cls, value: Any, info: ValidationInfo) -> Any:
        value = _json_object(value)
        # When saved: stored as an object, so what a JSON string carried must be storable too.
        return _storable(value) if _saving(info) else value

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _a_number(cls, value: Any) -> Any:
        if isinstance(value, bool):  # pydantic's lax mode would read true as 1
            raise ValueError("must be a number of callbacks a second")
        return value

    @field_validator("event_objects", mode="before")
    @classmethod
    def _objects(cls, value: Any) -> Any:
        if isinstance(value, str):
            names = [part.strip() for part in value.split(",") if part.strip()]
            return names or None
        return value

    @field_validator("refresh_interval", "signature_key_overlap_hours", mode="before")
    @classmethod
    def _whole_units(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, float) and not value.is_integer():
            unit = "minutes" if info.field_name == "refresh_interval" else "hours"
            raise ValueError(f"must be a whole number of {unit}")
        return value

    @field_validator("refresh_interval")
    @classmethod
    def _at_most_a_week(cls, value: int, info: ValidationInfo) -> int:
        if value > REFRESH_INTERVAL_MAX and _saving(info):
            raise ValueError(f"must be at most {REFRESH_INTERVAL_MAX} minutes (a week)")
        return value

    @field_validator("signature_key_overlap_hours")
    @classmethod
    def _overlap_at_most_a_week(cls, value: int, info: ValidationInfo) -> int:
        if value > SIGNATURE_KEY_OVERLAP_MAX and _saving(info):
            raise ValueError(f"must be at most {SIGNATURE_KEY_OVERLAP_MAX} hours (a week)")
        return value

    @field_validator("previous_signature_key_until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        # Written by utc_iso; a naive value is taken as UTC, as everywhere in this package.
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    @field_serializer("previous_signature_key_until")
    def _iso(self, value: datetime | None) -> str | None:
        return None if value is None else utc_iso(value)

    @model_validator(mode="after")
    def _required(self) -> InstanceConfig:
        if self.authentication_type == "oauth2" and not (self.oauth_api_key and self.oauth_api_secret):
            raise ValueError("oauth2 needs oauth.api.key and oauth.api.secret")
        if self.authentication_type == "token" and not self.access_token:
            raise ValueError("the token authentication type needs intercom.access.token")
        if self.events_enabled:
            if not self.callback_url:
                raise ValueError("events need event.notification.callback.url")
            if self.vendor_type == "webhook" and not self.oauth_api_secret:
                # Intercom signs every notification with the app's client secret.
                raise ValueError("webhook events need oauth.api.secret, the Intercom app's client secret")
        return self

    @property
    def intercom_base_url(self) -> str:
        return INTERCOM_HOSTS[self.region]

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        if self.basic_username:
            return (self.basic_username, self.basic_password or "")
        return None

    def overlapping_signature_key(self, now: datetime) -> str | None:
        """The key the signature key replaced, while its overlap lasts: callbacks carry its signature too."""
        until = self.previous_signature_key_until
        if self.signature_key and self.previous_signature_key and until is not None and now < until:
            return self.previous_signature_key
        return None

    def watches(self, object_type: str) -> bool:
        return self.event_objects is None or object_type in self.event_objects

    def stored_values(self) -> dict[str, Any]:
        """The keys the configuration gave, each as this view reads it ("webhooks" as "webhook", "EU" as
        "eu", "TRUE" as true, "15" as 15, a JSON string as its object, values trimmed), so that what is
        stored and answered is what the instance does. event.objects stays Open Connectors' list text."""
        values = self.model_dump(by_alias=True, exclude_unset=True)
        if values.get("event.objects") is not None:
            values["event.objects"] = ",".join(values["event.objects"])
        return values


# Every spelling's normalized form -> the Open Connectors key: the aliases, and the field names that the
# typed view once read too (`access_token` is intercom.access.token).
KNOWN_KEYS: dict[str, str] = {
    normalized_key(spelling): str(field.alias)
    for name, field in InstanceConfig.model_fields.items()
    for spelling in (str(field.alias), name)
}


def parse_config(configuration: dict[str, Any], saving: bool = False) -> InstanceConfig:
    """Validate a configuration map, naming every bad field; the message never echoes a value. `saving`
    adds the checks that keep a stored instance usable (see InstanceConfig)."""
    # A patch merges into what is stored: the sum must still fit (what was stored always does).
    problem = storage_problem(configuration, SEALED_SECRETS_MAX_BYTES, CONFIGURATION_MAX_BYTES)
    if problem:
        raise BadRequest("Invalid instance configuration", [{"field": "configuration", "message": problem}])
    try:
        return InstanceConfig.model_validate(configuration, context={"saving": saving})
    except ValidationError as exc:
        errors = []
        for error in exc.errors(include_input=False, include_url=False):
            field = ".".join(str(part) for part in error["loc"])
            errors.append(
                {"field": f"configuration.{field}" if field else "configuration", "message": error["msg"]}
            )
        raise BadRequest("Invalid instance configuration", errors) from None


def settled(configuration: Mapping[str, Any]) -> tuple[dict[str, Any], InstanceConfig]:
    """The configuration to store (known keys as the typed view reads them) and its typed view."""
    config = parse_config(dict(configuration), saving=True)
    return {**configuration, **config.stored_values()}, config


class ElementRef(Model):
    key: str


class ProviderData(Model):
    model_config = ConfigDict(extra="allow")
    code: str | None = None


class CreateInstanceBody(Model):
    """Open Connectors' POST /instances body, with the variants its clients send (SPEC §3)."""

    model_config = ConfigDict(extra="allow")

    element: ElementRef | None = None
    key: str | None = Field(None, description="The seed's flat form of element.key")
    providerData: ProviderData | None = None
    code: str | None = Field(None, description="The seed's flat form of providerData.code")
    name: Name
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    configuration: BodyConfiguration = Field(default_factory=dict)

    @field_validator("configuration", mode="before")
    @classmethod
    def _configuration(cls, value: Any) -> Any:
        value = _json_object(value)
        return {} if value is None else value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def element_key(self) -> str | None:
        return self.element.key if self.element else self.key

    @property
    def oauth_code(self) -> str | None:
        return (self.providerData.code if self.providerData else None) or self.code


class PatchInstanceBody(Model):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    tags: list[Tag] | None = Field(None, max_length=50)
    configuration: BodyConfiguration | None = None

    @field_validator("configuration", mode="before")
    @classmethod
    def _configuration(cls, value: Any) -> Any:
        return _json_object(value)


class DeliveryState(Answer):
    """The instance's deliveries when they are not plainly flowing: its circuit breaker, its run of
    failed attempts, its suspension."""

    breaker: Literal["closed", "open", "half-open"] = Field(
        description="open: its events are kept as queued, not sent, until openUntil; half-open: the "
        "cool-down is over and one event probes the receiver; closed: callbacks are sent"
    )
    consecutiveFailures: int | None = Field(None, description="failed attempts in a row, across its events")
    openUntil: str | None = Field(None, description="the end of the cool-down")
    openedDate: str | None = Field(None, description="when the breaker opened, its reopenings included")
    openings: int | None = Field(None, description="1 when it opened, plus one per failed probe")
    suspended: bool | None = Field(None, description="deliveries suspended until an operator retries them")
    suspendedDate: str | None = None


class InstanceAnswer(Answer):
    """What the API answers for an instance (Open Connectors' shape); secrets masked, None fields left out."""

    id: int
    name: str
    token: str | None = Field(None, description="the instance token, in the create answer only")
    element: ElementRef = ElementRef(key=ELEMENT_KEY)
    tags: list[str]
    disabled: bool
    eventsEnabled: bool
    eventsNotificationCallbackUrl: str | None = None
    webhookUrl: str
    configuration: dict[str, Any]
    createdDate: str
    updatedDate: str
    pollerStatus: PollerStatus | None = Field(
        None, description="polling instances: the last poll, and Intercom refusing the token (401)"
    )
    deliveryStatus: DeliveryState | None = Field(
        None, description="left out while callbacks flow normally (breaker closed, no failure, not suspended)"
    )


class Instance(Model):
    """An instance as stored, with its secrets already unsealed (never serialized as is)."""

    id: int
    owner_id: int
    owner_name: str
    name: str
    tags: list[str]
    disabled: bool = False
    deleted: bool = False
    configuration: dict[str, Any]  # every key, secrets included: keep out of logs and answers
    created_date: str
    updated_date: str | None = None
    token_hash: str | None = None

    @field_validator("configuration", mode="before")
    @classmethod
    def _canonical_keys(cls, value: Any) -> Any:
        # Saved before keys were made canonical, a key may be stored under another spelling.
        return stored_keys(value) if isinstance(value, Mapping) else value

    # The typed view, read once per configuration: a cached instance serves many webhooks and callbacks,
    # each reading `config` several times, and reading it cost more than the rest of a webhook's checks.
    # Kept with the dict it was read from, so a copy given another configuration reads its own.
    _config: tuple[dict[str, Any], InstanceConfig] | None = PrivateAttr(default=None)

    @property
    def config(self) -> InstanceConfig:
        """The configuration read into its typed view (the deployment's are `config.settings()`)."""
        if self._config is None or self._config[0] is not self.configuration:
            self._config = (self.configuration, parse_config(self.configuration))
        return self._config[1]

    def public_configuration(self) -> dict[str, Any]:
        return {
            k: (MASK if is_secret_key(k) and has_secret(v) else v)
            for k, v in self.configuration.items()
            if k not in INTERNAL_KEYS
        }
