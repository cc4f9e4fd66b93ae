"""One simulated Intercom workspace: its records and the way Intercom's REST API searches and pages them.

What the poller meets in the real Intercom, reproduced here on purpose:
- search cursors are stateless (they carry an offset), so a record changed between two page requests
  can be repeated or skipped;
- on stable API versions, contact search compares `created_at`/`updated_at` by calendar day in the
  workspace's time zone (`>` means "from the next day on"; `!=`, `>=`, `<=`, `IN`, `NIN` are errors);
  the Preview version compares to the second;
- a new contact becomes searchable only `index_lag_seconds` after it was created;
- `GET /companies/scroll` allows one open scroll per app, a snapshot that expires after a minute idle.
- contact and company ids are 24-hex ObjectIds with random-looking bytes after the time, as Intercom's
  ("6961d4041c1e12de4c5499cc"), so state keyed by them weighs what it weighs in production;
  `bulk_update` changes thousands of records in one instant, as an import or a CRM sync does.

Records are replaced, never changed in place, so an answer being written out never sees a half-made
update. Everything that reads or writes the records takes the workspace's lock.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

Resource = Literal["contacts", "conversations", "companies", "tickets"]
RESOURCES: tuple[Resource, ...] = get_args(Resource)
SEARCHABLE: tuple[Resource, ...] = ("contacts", "conversations", "tickets")
Predicate = Callable[[dict[str, Any]], bool]

MAX_PER_PAGE = 150
COMPANIES_LIST_LIMIT = 10_000
MAX_NESTING = 2
MAX_FILTERS_PER_GROUP = 15
PREVIEW_VERSIONS = frozenset({"preview", "unstable", "0"})
OPERATORS = frozenset({"=", "!=", "IN", "NIN", ">", "<", ">=", "<=", "~", "!~", "^", "$"})
STRING_OPERATORS = frozenset({"~", "!~", "^", "$"})
# The default page size of each search and list, as Intercom's reference gives them.
SEARCH_PER_PAGE: dict[str, int] = {"contacts": 50, "conversations": 20, "tickets": 20}
LIST_PER_PAGE: dict[str, int] = {"contacts": 10, "conversations": 20, "companies": 15}
# The answer's list type and the key holding the records (contacts and companies say `data`).
LIST_SHAPES: dict[str, tuple[str, str]] = {
    "contacts": ("list", "data"),
    "conversations": ("conversation.list", "conversations"),
    "tickets": ("ticket.list", "tickets"),
    "companies": ("list", "data"),
}
DATE_FIELDS: dict[str, frozenset[str]] = {
    "contacts": frozenset(
        {
            "created_at",
            "updated_at",
            "signed_up_at",
            "last_seen_at",
            "last_contacted_at",
            "last_replied_at",
            "last_email_opened_at",
            "last_email_clicked_at",
            "ios_last_seen_at",
            "android_last_seen_at",
        }
    ),
    "conversations": frozenset({"created_at", "updated_at", "waiting_since", "snoozed_until"}),
    "tickets": frozenset({"created_at", "updated_at", "snoozed_until"}),
}
SCROLL_EXPIRED_MESSAGES: dict[int, tuple[str, str]] = {
    404: ("not_found", "Scroll parameter not found"),
    500: (
        "server_error",
        "Request failed due to an internal network error. Please restart the scroll operation.",
    ),
}


class IntercomError(Exception):
    """An answer Intercom gives as an `error.list`: HTTP status, error code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _invalid(message: str) -> IntercomError:
    return IntercomError(400, "parameter_invalid", message)


class ManualClock:
    """A clock a test moves by hand: `clock()` is the time, `advance(s)` and `set(t)` change it."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self.now += seconds
            return self.now

    def set(self, now: float) -> None:
        with self._lock:
            self.now = float(now)


@dataclass
class _Scroll:
    param: str
    snapshot: list[dict[str, Any]]
    offset: int
    last_used: float


# --- cursors and values --------------------------------------------------------------------------------


def encode_cursor(offset: int, page: int) -> str:
    """An opaque `starting_after`: base64 of JSON holding only the offset, as stateless as Intercom's."""
    return base64.b64encode(json.dumps({"offset": offset, "page": page}).encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        offset = json.loads(base64.b64decode(cursor, validate=True))["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise _invalid("starting_after is not a valid cursor") from None
    if not isinstance(offset, int) or offset < 0:
        raise _invalid("starting_after is not a valid cursor")
    return offset


def per_page_value(raw: Any, default: int) -> int:
    """`per_page` from a body or a query string: 1 to 150, else a 400."""
    if raw is None:
        return default
    try:
        per_page = int(raw)
    except (TypeError, ValueError):
        raise _invalid("per_page must be an integer") from None
    if isinstance(raw, bool) or per_page < 1 or per_page > MAX_PER_PAGE:
        raise _invalid(f"per_page must be between 1 and {MAX_PER_PAGE}")
    return per_page


def resolve(record: dict[str, Any], dotted: str) -> Any:
    """A dotted field (`location.country`, `source.author.id`) of a record, None when absent."""
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _timestamp(value: Any, name: str) -> int:
    number = _number(value)
    if number is None:
        raise _invalid(f"{name} expects a UNIX timestamp, got {value!r}")
    return int(number)


def _same(actual: Any, wanted: Any) -> bool:
    if actual is None or wanted is None:
        return actual is None and wanted is None
    if isinstance(actual, bool):
        return str(actual).lower() == str(wanted).lower()
    left, right = _number(actual), _number(wanted)
    if left is not None and right is not None:
        return left == right
    return str(actual) == str(wanted)


def _sort_key(value: Any) -> tuple[int, float, str]:
    if value is None:
        return (0, 0.0, "")
    number = _number(value)
    return (1, number, "") if number is not None else (2, 0.0, str(value))


def _value_filter(name: str, operator: str, wanted: Any) -> Predicate:
    """A filter on a non-date field (strings, numbers, booleans, nested by dots)."""
    if operator in ("IN", "NIN"):
        if not isinstance(wanted, list):
            raise _invalid(f"{operator} expects an array value for {name}")
        inside = operator == "IN"
        return lambda r: any(_same(resolve(r, name), w) for w in wanted) is inside
    if operator in ("=", "!="):
        equal = operator == "="
        return lambda r: _same(resolve(r, name), wanted) is equal
    if operator in STRING_OPERATORS:
        if not isinstance(wanted, str):
            raise _invalid(f"{operator} expects a string value for {name}")
        needle = wanted.lower()
        tests: dict[str, Callable[[str], bool]] = {
            "~": lambda s: needle in s,
            "!~": lambda s: needle not in s,
            "^": lambda s: s.startswith(needle),
            "$": lambda s: s.endswith(needle),
        }
        test = tests[operator]

        def matches(record: dict[str, Any]) -> bool:
            actual = resolve(record, name)
            if actual is None:
                return operator == "!~"
            return test(str(actual).lower())

        return matches
    bound = _number(wanted)
    if bound is None:
        raise _invalid(f"{operator} expects a number for {name}, got {wanted!r}")
    return _compare(name, operator, bound)


def _compare(name: str, operator: str, bound: float) -> Predicate:
    comparisons: dict[str, Callable[[float], bool]] = {
        ">": lambda v: v > bound,
        "<": lambda v: v < bound,
        ">=": lambda v: v >= bound,
        "<=": lambda v: v <= bound,
    }
    test = comparisons[operator]

    def matches(record: dict[str, Any]) -> bool:
        actual = _number(resolve(record, name))
        return actual is not None and test(actual)

    return matches


# --- the workspace -------------------------------------------------------------------------------------


@dataclass
class Workspace:
    """One Intercom workspace (an Intercom "app") and its data, keyed by Intercom id.

    `clock` is the workspace's time (Unix seconds; a `ManualClock` in tests): it stamps records, ages
    new contacts for search and idles scrolls. The knobs below reproduce what Intercom documents.
    """

    app_id: str
    name: str = "Local Workspace"
    region: str = "US"
    timezone: str = "UTC"
    admin: dict[str, Any] = field(
        default_factory=lambda: {
            "type": "admin",
            "id": "991267460",
            "name": "Local Admin",
            "email": "admin@example.com",
            "email_verified": True,
        }
    )
    created_at: int = field(default_factory=lambda: int(time.time()))
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    companies: dict[str, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    clock: Callable[[], float] = field(default=time.time, repr=False)
    # The version set in the app's settings: what a request without `Intercom-Version` gets.
    api_version: str = "2.15"
    # A new contact is invisible to search for this long (Intercom: "can take a few minutes").
    index_lag_seconds: float = 0.0
    scroll_expiry_seconds: float = 60.0
    scroll_page_size: int = 50
    # What a call with an expired scroll_param answers: 404 not_found, or 500 "restart the scroll".
    scroll_expired_status: Literal[404, 500] = 404
    # Intercom sometimes sends `pages.per_page` as a string.
    per_page_as_string: bool = False
    # Conversations and tickets: the docs call `>` "greater (or equal) than" and `<` "lower (or equal)";
    # True answers that way, False (the default) compares strictly.
    second_bounds_inclusive: bool = False
    # Contact and company ids as Intercom's: 24-hex ObjectIds, a timestamp then random-looking bytes
    # (seeded, so a run can be repeated). "sequential" keeps a counter there, which compresses far better
    # than what production meets.
    object_ids: Literal["random", "sequential"] = "random"
    id_seed: int | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False, compare=False)
    _sequence: int = field(default=0, init=False, repr=False, compare=False)
    _created: dict[str, float] = field(default_factory=dict, init=False, repr=False, compare=False)
    _scroll: _Scroll | None = field(default=None, init=False, repr=False, compare=False)
    _random: random.Random = field(default_factory=random.Random, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._random.seed(self.id_seed)

    def me(self) -> dict[str, Any]:
        """`GET /me` for a token of this workspace: the admin who authorised, with the app."""
        return {
            **self.admin,
            "app": {
                "type": "app",
                "id_code": self.app_id,
                "name": self.name,
                "created_at": self.created_at,
                "secure": False,
                "identity_verification": False,
                "timezone": self.timezone,
                "region": self.region,
            },
            "avatar": {"type": "avatar", "image_url": None},
            "has_inbox_seat": True,
        }

    # --- changing the data while the server runs -------------------------------------------------------

    def store(self, resource: Resource) -> dict[str, dict[str, Any]]:
        if resource not in RESOURCES:
            raise ValueError(f"unknown resource {resource!r}; one of {', '.join(RESOURCES)}")
        stores: dict[str, dict[str, dict[str, Any]]] = {
            "contacts": self.contacts,
            "conversations": self.conversations,
            "companies": self.companies,
            "tickets": self.tickets,
        }
        return stores[resource]

    def create(self, resource: Resource, **fields: Any) -> dict[str, Any]:
        """A new record stamped with the clock (`created_at` = `updated_at`); `fields` override the shape."""
        with self._lock:
            record = self._add(resource, self.clock(), fields)
            return dict(record)

    def update(self, resource: Resource, record_id: str, **fields: Any) -> dict[str, Any]:
        """Replaces top-level fields and bumps `updated_at` to the clock (unless given)."""
        with self._lock:
            store = self.store(resource)
            record = {**store[record_id], "updated_at": int(self.clock()), **fields}
            store[record_id] = record
            return dict(record)

    def delete(self, resource: Resource, record_id: str) -> None:
        with self._lock:
            del self.store(resource)[record_id]
            self._created.pop(record_id, None)

    def get(self, resource: Resource, record_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self.store(resource)[record_id])

    def bulk_update(
        self, resource: Resource, record_ids: list[str], *, at: int | None = None, **fields: Any
    ) -> list[dict[str, Any]]:
        """Every one of `record_ids` changed at the same instant (`at`, or the clock), as an import or a
        CRM sync does: `updated_at` set, `fields` replaced."""
        with self._lock:
            instant = int(self.clock()) if at is None else at
            return [self.update(resource, rid, updated_at=instant, **fields) for rid in record_ids]

    def seed(
        self, resource: Resource, count: int, *, start: int, spacing: float = 1.0, **fields: Any
    ) -> list[dict[str, Any]]:
        """`count` records created at `start`, `start + spacing`, ...: thousands in milliseconds."""
        with self._lock:
            return [dict(self._add(resource, start + i * spacing, fields)) for i in range(count)]

    def _add(self, resource: Resource, instant: float, fields: dict[str, Any]) -> dict[str, Any]:
        self._sequence += 1
        record = {**self._shape(resource, self._sequence, int(instant)), **fields}
        self.store(resource)[record["id"]] = record
        if resource == "contacts":
            self._created[record["id"]] = instant
        return record

    def _object_id(self, n: int, now: int) -> str:
        """Like "6961d4041c1e12de4c5499cc": four bytes of time, then eight random-looking (or a counter)."""
        tail = n if self.object_ids == "sequential" else self._random.getrandbits(64)
        return f"{now & 0xFFFFFFFF:08x}{tail:016x}"

    def _shape(self, resource: Resource, n: int, now: int) -> dict[str, Any]:
        """A record as Intercom's 2.x API shows it, trimmed to the fields worth searching."""
        empty_list = {"type": "list", "data": [], "total_count": 0, "has_more": False}
        if resource == "contacts":
            contact_id = self._object_id(n, now)
            return {
                "type": "contact",
                "id": contact_id,
                "workspace_id": self.app_id,
                "external_id": None,
                "role": "user",
                "email": f"user{n}@example.com",
                "phone": None,
                "name": f"User {n}",
                "owner_id": None,
                "has_hard_bounced": False,
                "marked_email_as_spam": False,
                "unsubscribed_from_emails": False,
                "created_at": now,
                "updated_at": now,
                "signed_up_at": now,
                "last_seen_at": None,
                "location": {"type": "location", "country": None, "region": None, "city": None},
                "custom_attributes": {},
                "tags": {**empty_list, "url": f"/contacts/{contact_id}/tags"},
                "companies": {**empty_list, "url": f"/contacts/{contact_id}/companies"},
            }
        if resource == "conversations":
            return {
                "type": "conversation",
                "id": str(n),
                "created_at": now,
                "updated_at": now,
                "waiting_since": None,
                "snoozed_until": None,
                "source": {
                    "type": "conversation",
                    "id": str(400_000_000 + n),
                    "delivered_as": "customer_initiated",
                    "subject": "",
                    "body": f"<p>Message {n}</p>",
                    "author": {"type": "user", "id": f"{n:024x}", "name": f"User {n}", "email": None},
                },
                "contacts": {"type": "contact.list", "contacts": []},
                "admin_assignee_id": None,
                "team_assignee_id": None,
                "open": True,
                "state": "open",
                "read": False,
                "priority": "not_priority",
                "title": f"Conversation {n}",
                "tags": {"type": "tag.list", "tags": []},
                "custom_attributes": {},
            }
        if resource == "companies":
            return {
                "type": "company",
                "company_id": f"company-{n}",
                "id": self._object_id(n, now),
                "app_id": self.app_id,
                "name": f"Company {n}",
                "remote_created_at": now,
                "created_at": now,
                "updated_at": now,
                "last_request_at": now,
                "monthly_spend": 0,
                "session_count": 0,
                "user_count": 0,
                "tags": {"type": "tag.list", "tags": []},
                "segments": {"type": "segment.list", "segments": []},
                "plan": {},
                "custom_attributes": {},
            }
        return {
            "type": "ticket",
            "id": str(n),
            "ticket_id": str(n),
            "category": "Customer",
            "ticket_attributes": {"_default_title_": f"Ticket {n}", "_default_description_": None},
            "ticket_state": {
                "type": "ticket_state",
                "id": "1",
                "category": "submitted",
                "internal_label": "Submitted",
                "external_label": "Submitted",
            },
            "ticket_type": {"type": "ticket_type", "id": "1", "name": "Question"},
            "contacts": {"type": "contact.list", "contacts": []},
            "admin_assignee_id": "0",
            "team_assignee_id": "0",
            "created_at": now,
            "updated_at": now,
            "open": True,
            "snoozed_until": None,
            "is_shared": True,
        }

    # --- search ----------------------------------------------------------------------------------------

    def is_preview(self, version: str | None) -> bool:
        return (version or self.api_version).strip().lower() in PREVIEW_VERSIONS

    def search(self, resource: Resource, body: Any, *, version: str | None = None) -> dict[str, Any]:
        """`POST /<resource>/search`: one page of matches, with a stateless `starting_after` cursor."""
        if resource not in SEARCHABLE:
            raise IntercomError(404, "not_found", "Resource Not Found")
        if not isinstance(body, dict):
            raise _invalid("The body must be a JSON object")
        if "query" not in body:
            raise IntercomError(400, "parameter_not_found", "query is required")
        predicate = self._compile(resource, body["query"], preview=self.is_preview(version), depth=0)
        pagination = body.get("pagination") or {}
        if not isinstance(pagination, dict):
            raise _invalid("pagination must be an object")
        per_page = per_page_value(pagination.get("per_page"), SEARCH_PER_PAGE[resource])
        cursor = pagination.get("starting_after")
        offset = decode_cursor(cursor) if cursor else 0
        with self._lock:
            now = self.clock()
            candidates = [r for r in self.store(resource).values() if self._searchable(resource, r, now)]
        matched = self._sorted([r for r in candidates if predicate(r)], body.get("sort"))
        return self._cursor_page(resource, matched, offset, per_page)

    def _searchable(self, resource: Resource, record: dict[str, Any], now: float) -> bool:
        # Only new contacts wait for the index; an update shows at once.
        if resource != "contacts" or self.index_lag_seconds <= 0:
            return True
        created = self._created.get(record["id"], _number(record.get("created_at")) or 0.0)
        return now >= created + self.index_lag_seconds

    def _compile(self, resource: Resource, query: Any, *, preview: bool, depth: int) -> Predicate:
        if not isinstance(query, dict):
            raise _invalid("query must be an object")
        operator = query.get("operator")
        if operator in ("AND", "OR"):
            parts = query.get("value")
            if not isinstance(parts, list) or not parts:
                raise _invalid(f"{operator} expects an array of filters")
            if depth >= MAX_NESTING:
                raise _invalid(f"There's a limit of max {MAX_NESTING} nested filters")
            if len(parts) > MAX_FILTERS_PER_GROUP:
                raise _invalid(f"There's a limit of max {MAX_FILTERS_PER_GROUP} filters for each AND or OR")
            predicates = [self._compile(resource, part, preview=preview, depth=depth + 1) for part in parts]
            if operator == "AND":
                return lambda r: all(p(r) for p in predicates)
            return lambda r: any(p(r) for p in predicates)
        name = query.get("field")
        if not isinstance(name, str) or not name or "value" not in query:
            raise _invalid("A filter needs field, operator and value")
        if operator not in OPERATORS:
            raise _invalid(f"Operator {operator!r} is not supported")
        if resource == "conversations" and operator in (">=", "<="):
            raise _invalid(f"Operator {operator!r} is not supported for conversations")
        if name in DATE_FIELDS[resource]:
            return self._date_filter(resource, name, operator, query["value"], preview=preview)
        return _value_filter(name, operator, query["value"])

    def _date_filter(
        self, resource: Resource, name: str, operator: str, value: Any, *, preview: bool
    ) -> Predicate:
        if operator in STRING_OPERATORS:
            raise _invalid(f"Operator {operator!r} is not supported on Date field {name}")
        if resource == "contacts" and not preview:
            return self._day_filter(name, operator, value)
        if operator in ("=", "!=", "IN", "NIN"):
            return _value_filter(name, operator, value)
        seconds = _timestamp(value, name)
        if self.second_bounds_inclusive and resource != "contacts":
            operator = {">": ">=", "<": "<="}.get(operator, operator)
        return _compare(name, operator, seconds)

    def _day_filter(self, name: str, operator: str, value: Any) -> Predicate:
        """Stable contact search: the value is truncated to its day in the workspace's time zone."""
        if operator not in ("=", ">", "<"):
            raise _invalid(f"Operator {operator!r} is not supported on Date field {name}")
        zone = ZoneInfo(self.timezone)
        day = datetime.fromtimestamp(_timestamp(value, name), zone).date()
        day_start = datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
        following = day + timedelta(days=1)
        next_day_start = datetime(following.year, following.month, following.day, tzinfo=zone).timestamp()
        bounds: dict[str, Callable[[float], bool]] = {
            "=": lambda t: day_start <= t < next_day_start,
            ">": lambda t: t >= next_day_start,
            "<": lambda t: t < day_start,
        }
        test = bounds[operator]

        def matches(record: dict[str, Any]) -> bool:
            actual = _number(resolve(record, name))
            return actual is not None and test(actual)

        return matches

    @staticmethod
    def _sorted(records: list[dict[str, Any]], sort: Any) -> list[dict[str, Any]]:
        """Ordered by `sort` (full-second values, ties in creation order); no sort keeps creation order."""
        if sort is None:
            return records
        if not isinstance(sort, dict) or not isinstance(sort.get("field"), str):
            raise _invalid("sort needs a field")
        order = sort.get("order", "ascending")
        if order not in ("ascending", "descending"):
            raise _invalid("sort order must be ascending or descending")
        name = sort["field"]
        return sorted(records, key=lambda r: _sort_key(resolve(r, name)), reverse=order == "descending")

    def _cursor_page(
        self, resource: str, records: list[dict[str, Any]], offset: int, per_page: int
    ) -> dict[str, Any]:
        total = len(records)
        data = records[offset : offset + per_page]
        page = offset // per_page + 1
        pages: dict[str, Any] = {
            "type": "pages",
            "page": page,
            "per_page": str(per_page) if self.per_page_as_string else per_page,
            "total_pages": math.ceil(total / per_page),
        }
        if offset + len(data) < total:
            pages["next"] = {"page": page + 1, "starting_after": encode_cursor(offset + len(data), page + 1)}
        list_type, key = LIST_SHAPES[resource]
        return {"type": list_type, key: data, "total_count": total, "pages": pages}

    # --- lists -----------------------------------------------------------------------------------------

    def list_page(
        self, resource: Resource, *, per_page: Any = None, starting_after: str | None = None
    ) -> dict[str, Any]:
        """`GET /contacts`, `GET /conversations`: every record in creation order, cursor pages."""
        size = per_page_value(per_page, LIST_PER_PAGE[resource])
        offset = decode_cursor(starting_after) if starting_after else 0
        with self._lock:
            records = list(self.store(resource).values())
        return self._cursor_page(resource, records, offset, size)

    def companies_page(
        self, *, page: Any = None, per_page: Any = None, order: str | None = None
    ) -> dict[str, Any]:
        """`POST /companies/list`: pages by number, most recently requested first; never past 10,000."""
        size = per_page_value(per_page, LIST_PER_PAGE["companies"])
        try:
            number = int(page) if page is not None else 1
        except (TypeError, ValueError):
            raise _invalid("page must be an integer") from None
        if number < 1:
            raise _invalid("page must be 1 or more")
        if order not in (None, "asc", "desc"):
            raise _invalid("order must be asc or desc")
        with self._lock:
            records = list(self.companies.values())
        records.sort(key=lambda r: _sort_key(r.get("last_request_at")), reverse=order != "asc")
        reachable = records[:COMPANIES_LIST_LIMIT]
        start = (number - 1) * size
        total_pages = math.ceil(len(reachable) / size)
        pages = {
            "type": "pages",
            "next": {"page": number + 1} if number < total_pages else None,
            "page": number,
            "per_page": str(size) if self.per_page_as_string else size,
            "total_pages": total_pages,
        }
        data = reachable[start : start + size]
        return {"type": "list", "data": data, "pages": pages, "total_count": len(records)}

    # --- the companies scroll --------------------------------------------------------------------------

    def scroll(self, scroll_param: str | None = None) -> dict[str, Any]:
        """`GET /companies/scroll`: a snapshot taken at the first call, one open per app, idle expiry."""
        with self._lock:
            now = self.clock()
            if self._scroll is not None and now - self._scroll.last_used > self.scroll_expiry_seconds:
                self._scroll = None
            if not scroll_param:
                if self._scroll is not None:
                    raise IntercomError(400, "scroll_exists", "scroll already exists for this app")
                snapshot = list(self.companies.values())
                self._scroll = _Scroll(str(uuid.uuid4()), snapshot, 0, now)
            elif self._scroll is None or self._scroll.param != scroll_param:
                code, message = SCROLL_EXPIRED_MESSAGES[self.scroll_expired_status]
                raise IntercomError(self.scroll_expired_status, code, message)
            scroll = self._scroll
            data = scroll.snapshot[scroll.offset : scroll.offset + self.scroll_page_size]
            scroll.offset += len(data)
            scroll.last_used = now
            if not data:
                self._scroll = None  # the end: the param expires and a new scroll may start
        return {
            "type": "list",
            "data": data,
            "pages": None,
            "total_count": None,
            "scroll_param": scroll.param,
        }

    @property
    def open_scroll(self) -> str | None:
        """The scroll_param of the app's open scroll, if one is open and not yet idle too long."""
        with self._lock:
            scroll = self._scroll
            if scroll is None or self.clock() - scroll.last_used > self.scroll_expiry_seconds:
                return None
            return scroll.param
