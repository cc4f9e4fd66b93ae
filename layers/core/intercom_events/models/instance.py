"""The connector instance: Open Connectors' create body, its configuration keys, what we store and answer."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..errors import BadRequest

ELEMENT_KEY = "intercom"
MASK = "********"

# Configuration keys whose values are secrets: sealed with KMS at rest, masked in every answer, never logged.
SECRET_KEYS = frozenset(
    {
        "oauth.api.secret",
        "intercom.access.token",
        "event.notification.signature.key",
        "event.notification.basic.password",
    }
)

# What the store can keep: the secrets sealed with KMS in one Encrypt call, the instance in one DynamoDB
# item. Beyond these a save would fail, so such a configuration is a 400, not a 500.
SEALED_SECRETS_MAX_BYTES = 4096  # KMS Encrypt's plaintext limit, the secrets as store.sealed seals them
CONFIGURATION_MAX_BYTES = 300_000  # of DynamoDB's 400 KB item; the rest is name, tags, sealed secrets
# A create or patch body leaves room for the access token that the OAuth exchange adds to the secrets.
BODY_SECRETS_MAX_BYTES = 3072
BODY_CONFIGURATION_MAX_BYTES = 100_000
NESTING_MAX = 30  # DynamoDB nests 32 levels deep; the item and the configuration map take two
TAG_MAX_LENGTH = 200

INTERCOM_HOSTS = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}


def _json_object(value: Any) -> Any:
    """Open Connectors accepts nested configuration either as an object or as a JSON string."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"must be a JSON object ({exc.msg})") from None
    return value


def _storable(value: Any, depth: int = 0) -> Any:
    """A configuration value DynamoDB can keep: finite numbers in its range and precision, not too deep."""
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int):
        if abs(value) >= 10**38:
            raise ValueError("numbers have at most 38 digits")
    elif isinstance(value, float):
        if not math.isfinite(value) or (value != 0 and not 1e-128 <= abs(value) < 1e125):
            raise ValueError("numbers must be finite and between 1e-128 and 1e125 in size")
    elif isinstance(value, dict | list):
        if depth >= NESTING_MAX:
            raise ValueError(f"values nest at most {NESTING_MAX} levels deep")
        for child in value.values() if isinstance(value, dict) else value:
            _storable(child, depth + 1)
    return value


ConfigurationValue = Annotated[Any, AfterValidator(_storable)]
Tag = Annotated[str, Field(max_length=TAG_MAX_LENGTH)]


def storage_problem(configuration: dict[str, Any], secrets_max: int, configuration_max: int) -> str | None:
    """Why `configuration` would not fit the store, or None. Sizes only: the message names no value."""
    secrets = {k: v for k, v in configuration.items() if k in SECRET_KEYS and v not in (None, "")}
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


# The configuration map of a create or patch body.
BodyConfiguration = Annotated[dict[str, ConfigurationValue], AfterValidator(_fits_a_body)]


class InstanceSettings(BaseModel):
    """The typed view of an instance's configuration map (keys as Open Connectors names them).

    Values may arrive as strings ("true", "15"): pydantic's lax mode turns them into bools and ints.
    """

    model_config = ConfigDict(populate_by_name=True, extra="ignore", str_strip_whitespace=True)

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
    callback_headers: dict[str, str] = Field(
        default_factory=dict, alias="event.notification.callback.headers"
    )
    basic_username: str | None = Field(None, alias="event.notification.basic.username")
    basic_password: str | None = Field(None, alias="event.notification.basic.password")
    event_objects: list[str] | None = Field(None, alias="event.objects")
    refresh_interval: int = Field(15, ge=1, alias="event.poller.refresh_interval")
    poller_configuration: dict[str, Any] | None = Field(None, alias="event.poller.configuration")

    @field_validator("authentication_type", "region", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("vendor_type", mode="before")
    @classmethod
    def _vendor(cls, value: Any) -> Any:
        value = value.strip().lower() if isinstance(value, str) else value
        return "webhook" if value == "webhooks" else value

    @field_validator("callback_headers", mode="before")
    @classmethod
    def _headers(cls, value: Any) -> Any:
        value = _json_object(value)
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return {} if value is None else value

    @field_validator("poller_configuration", mode="before")
    @classmethod
    def _poller(cls, value: Any) -> Any:
        return _json_object(value)

    @field_validator("event_objects", mode="before")
    @classmethod
    def _objects(cls, value: Any) -> Any:
        if isinstance(value, str):
            names = [part.strip() for part in value.split(",") if part.strip()]
            return names or None
        return value

    @field_validator("refresh_interval", mode="before")
    @classmethod
    def _whole_minutes(cls, value: Any) -> Any:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("must be a whole number of minutes")
        return value

    @model_validator(mode="after")
    def _required(self) -> InstanceSettings:
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

    def watches(self, object_type: str) -> bool:
        return self.event_objects is None or object_type in self.event_objects


def parse_settings(configuration: dict[str, Any]) -> InstanceSettings:
    """Validate a configuration map, naming every bad field; the message never echoes a value."""
    # A patch merges into what is stored: the sum must still fit (what was stored always does).
    problem = storage_problem(configuration, SEALED_SECRETS_MAX_BYTES, CONFIGURATION_MAX_BYTES)
    if problem:
        raise BadRequest("Invalid instance configuration", [{"field": "configuration", "message": problem}])
    try:
        return InstanceSettings.model_validate(configuration)
    except ValidationError as exc:
        errors = []
        for error in exc.errors(include_input=False, include_url=False):
            field = ".".join(str(part) for part in error["loc"])
            errors.append(
                {"field": f"configuration.{field}" if field else "configuration", "message": error["msg"]}
            )
        raise BadRequest("Invalid instance configuration", errors) from None


class ElementRef(BaseModel):
    key: str


class ProviderData(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str | None = None


class CreateInstanceBody(BaseModel):
    """Open Connectors' POST /instances body, with the variants its clients send (SPEC §3)."""

    model_config = ConfigDict(extra="allow")

    element: ElementRef | None = None
    key: str | None = Field(None, description="The seed's flat form of element.key")
    providerData: ProviderData | None = None
    code: str | None = Field(None, description="The seed's flat form of providerData.code")
    name: str = Field(min_length=1, max_length=200)
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


class PatchInstanceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    tags: list[Tag] | None = Field(None, max_length=50)
    configuration: BodyConfiguration | None = None

    @field_validator("configuration", mode="before")
    @classmethod
    def _configuration(cls, value: Any) -> Any:
        return _json_object(value)


class InstanceAnswer(BaseModel):
    """What the API answers for an instance (Open Connectors' shape); secrets masked."""

    id: int
    name: str
    token: str | None = None
    element: ElementRef = ElementRef(key=ELEMENT_KEY)
    tags: list[str]
    disabled: bool
    eventsEnabled: bool
    eventsNotificationCallbackUrl: str | None
    webhookUrl: str
    configuration: dict[str, Any]
    createdDate: str
    updatedDate: str


class Instance(BaseModel):
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

    @property
    def settings(self) -> InstanceSettings:
        return parse_settings(self.configuration)

    def public_configuration(self) -> dict[str, Any]:
        return {
            k: (MASK if k in SECRET_KEYS and v not in (None, "") else v)
            for k, v in self.configuration.items()
        }
