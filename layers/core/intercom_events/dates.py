"""Dates as Open Connectors' poller reads and writes them (SPEC §7).

Two uses: reading a record's created/updated field in its configured `datesConfiguration` format and
time zone (`parse_instant`), and rendering the last poll time into a configured URL's date macros
(`expand_macros`, built on `format_instant`); and `utc_iso`, how the rest of the package writes an instant.

Formats: `timestamp` (Unix seconds, as Intercom), `milliseconds` (epoch ms), ISO-8601 (`iso8601`,
`ISO-8601`, `iso`), or a Java SimpleDateFormat pattern. Open Connectors is a Java service, so where Java
has an answer this module gives the same one:

- Pattern letters: y, M/L (number, MMM short name, MMMM full name), d, H, h, k, K, m, s, S, a, E, Z, X,
  x, z; text between single quotes is literal and '' is a quote; any other ASCII letter is an error, as
  in Java. Names are English (Java's Locale.US).
- S is the fraction of a second, as in DateTimeFormatter (SSS is milliseconds, SSSSSS microseconds; S
  alone is tenths). SimpleDateFormat reads S as a millisecond count instead; the two agree on SSS, the
  only count Open Connectors' examples use.
- X is "Z" for a zero offset, else +HH (+HHmm when the offset has minutes: DateTimeFormatter's choice,
  where SimpleDateFormat would drop them), XX +HHmm, XXX +HH:mm; x is the same without "Z". Z is +HHmm.
  z is the zone's short name (UTC, GMT, EST, PDT, IST; GMT+05:30 for a bare offset); zzzz, Java's long
  name, is not supported.
- Two-digit years (yy) fall within 80 years before and 20 after now, as SimpleDateFormat reads them.
- A quoted 'Z' is a literal: the text is read in the configured zone, as Java reads it.
- Time zones: see `zone`. A naive date takes the configured zone; with none configured, UTC ("Unless
  configured for a specific time zone, polling occurs in UTC").

Bad data (a value that is empty, unreadable or out of range) gives None and logs nothing; bad
configuration (an unknown zone, an illegal pattern) raises ValueError, so it can be refused when an
instance is created: `check_format` and `zone` validate the two settings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import parser as dateutil_parser
from dateutil.zoneinfo import get_zonefile_instance

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Above this a number read without a format is taken as epoch milliseconds: 10^11 s is the year 5138,
# 10^11 ms is March 1973.
EPOCH_MS_THRESHOLD = 10**11

_Kind: TypeAlias = Literal["timestamp", "milliseconds", "iso", "pattern"]

# ---------------------------------------------------------------------------------------------------
# Time zones
# ---------------------------------------------------------------------------------------------------

_GMT = timezone(timedelta(0), "GMT")

# Java's ZoneId.SHORT_IDS (what Open Connectors' Java resolves three-letter ids to), so a configuration
# copied from Open Connectors reads and renders dates as it did there. Note BST is Bangladesh, IST India
# and AST Alaska, as in Java; CST and PST follow daylight saving time (they are Chicago and Los Angeles).
_JAVA_SHORT_IDS: dict[str, str] = {
    "ACT": "Australia/Darwin",
    "AET": "Australia/Sydney",
    "AGT": "America/Argentina/Buenos_Aires",
    "ART": "Africa/Cairo",
    "AST": "America/Anchorage",
    "BET": "America/Sao_Paulo",
    "BST": "Asia/Dhaka",
    "CAT": "Africa/Harare",
    "CNT": "America/St_Johns",
    "CST": "America/Chicago",
    "CTT": "Asia/Shanghai",
    "EAT": "Africa/Addis_Ababa",
    "ECT": "Europe/Paris",
    "IET": "America/Indiana/Indianapolis",
    "IST": "Asia/Kolkata",
    "JST": "Asia/Tokyo",
    "MIT": "Pacific/Apia",
    "NET": "Asia/Yerevan",
    "NST": "Pacific/Auckland",
    "PLT": "Asia/Karachi",
    "PNT": "America/Phoenix",
    "PRT": "America/Puerto_Rico",
    "PST": "America/Los_Angeles",
    "SST": "Pacific/Guadalcanal",
    "VST": "Asia/Ho_Chi_Minh",
}
# Fixed offsets: Java's three (EST, MST, HST are "-05:00", "-07:00", "-10:00" in SHORT_IDS), and common
# abbreviations Java does not know (its TimeZone would silently answer GMT), each at its literal offset.
# CET, EET, WET and MET are IANA zones themselves (with summer time, as in Java) and need no entry.
_FIXED_ABBREVIATIONS: dict[str, int] = {
    "EST": -5,
    "MST": -7,
    "HST": -10,
    "EDT": -4,
    "CDT": -5,
    "MDT": -6,
    "PDT": -7,
    "AKST": -9,
    "AKDT": -8,
    "WEST": 1,
    "CEST": 2,
    "EEST": 3,
    "AEST": 10,
    "AEDT": 11,
}
_UTC_NAMES = frozenset({"UTC", "Z", "UT", "UCT", "ZULU"})
_OFFSET = re.compile(r"(?:GMT|UTC|UT)?([+-])(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)
_IANA_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*")


def zone(name: str | None) -> tzinfo:
    """The time zone a configuration names; UTC for None or "".

    Accepts GMT, UTC (and Z, UT), the abbreviations above, IANA names (America/New_York, CET, Etc/GMT+5),
    and offsets: ±hh:mm, ±hhmm, ±hh, GMT+01:00, UTC-5. Raises ValueError for anything else.
    """
    key = (name or "").strip()
    return _zone(key) if key else UTC


@lru_cache(maxsize=256)
def _zone(key: str) -> tzinfo:
    upper = key.upper()
    if upper in _UTC_NAMES:
        return UTC
    if upper == "GMT":
        return _GMT
    if upper in _FIXED_ABBREVIATIONS:
        return timezone(timedelta(hours=_FIXED_ABBREVIATIONS[upper]), upper)
    if upper in _JAVA_SHORT_IDS:
        return _region(_JAVA_SHORT_IDS[upper])
    if match := _OFFSET.fullmatch(key):
        sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
        if hours > 18 or minutes > 59 or (hours == 18 and minutes):  # Java's bounds for an offset
            raise ValueError(f"time zone offset out of range: {key!r}")
        name = f"GMT{sign}{hours:02d}:{minutes:02d}"
        return timezone((-1 if sign == "-" else 1) * timedelta(hours=hours, minutes=minutes), name)
    if _IANA_KEY.fullmatch(key):
        return _region(key)
    raise ValueError(f"unknown time zone: {key!r}")


def _region(key: str) -> tzinfo:
    """An IANA zone: the system's tz database first, then the copy python-dateutil bundles.

    The Lambda Python runtimes (Amazon Linux 2023) ship /usr/share/zoneinfo, which zoneinfo reads; the
    dateutil fallback covers a runtime without it, so the `tzdata` package is not needed.
    """
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    try:
        bundled = get_zonefile_instance().get(key)
    except Exception:  # an unreadable bundled tarball is the same as an unknown zone
        bundled = None
    if bundled is None:
        raise ValueError(f"unknown time zone: {key!r}")
    return bundled


# ---------------------------------------------------------------------------------------------------
# Java patterns
# ---------------------------------------------------------------------------------------------------
# Hand-written: neither the standard library nor dateutil translates Java SimpleDateFormat /
# DateTimeFormatter patterns, and strftime would bring the process locale into month and day names.

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NUMBERS = {name.lower(): number for number, full in enumerate(_MONTHS, 1) for name in (full, full[:3])}
_DAY_NAMES = frozenset(name.lower() for full in _DAYS for name in (full, full[:3]))

_NUMERIC_LETTERS = frozenset("ydHhkKmsS")
_LETTERS = frozenset("yMLdHhkKmsSaEZXxz")
_ZONE_TEXT = (
    r"Z|[+-]\d{2}(?::?\d{2})?|(?:GMT|UTC|UT)(?:[+-]\d{1,2}(?::?\d{2})?)?"
    r"|[A-Za-z][A-Za-z_]*(?:/[A-Za-z_][A-Za-z0-9_+-]*)*"
)


@dataclass(frozen=True, slots=True)
class _Field:
    letter: str
    count: int

    @property
    def numeric(self) -> bool:
        return self.letter in _NUMERIC_LETTERS or (self.letter in "ML" and self.count <= 2)


_Token: TypeAlias = _Field | str  # a str is literal text


@dataclass(frozen=True, slots=True)
class _Pattern:
    tokens: tuple[_Token, ...]
    regex: re.Pattern[str]
    fields: tuple[_Field, ...]  # the field of each regex group, in order
    day_first: bool  # d before M: how a fallback parse reads 01/02/2026


@lru_cache(maxsize=256)
def _compile(pattern: str) -> _Pattern:
    tokens = _tokenize(pattern)
    parts: list[str] = []
    fields: list[_Field] = []
    for index, token in enumerate(tokens):
        if isinstance(token, str):
            parts.append(re.escape(token))
            continue
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        abutting = isinstance(following, _Field) and following.numeric
        parts.append(f"({_field_regex(token, abutting)})")
        fields.append(token)
    letters = "".join(field.letter for field in fields).replace("L", "M")
    day_first = "d" in letters and "M" in letters and letters.index("d") < letters.index("M")
    return _Pattern(tokens, re.compile("".join(parts)), tuple(fields), day_first)


def _tokenize(pattern: str) -> tuple[_Token, ...]:
    tokens: list[_Token] = []
    literal: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "'":
            if pattern.startswith("''", i):
                literal.append("'")
                i += 2
                continue
            i += 1
            while True:
                if i >= n:
                    raise ValueError(f"unterminated quote in date pattern {pattern!r}")
                if pattern[i] == "'":
                    if pattern.startswith("''", i):
                        literal.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                literal.append(pattern[i])
                i += 1
        elif char.isascii() and char.isalpha():
            end = i
            while end < n and pattern[end] == char:
                end += 1
            count = end - i
            if char not in _LETTERS:
                raise ValueError(f"illegal pattern character {char!r} in date pattern {pattern!r}")
            if (char == "S" and count > 9) or (char == "z" and count > 3):
                raise ValueError(f"unsupported field {char * count!r} in date pattern {pattern!r}")
            if literal:
                tokens.append("".join(literal))
                literal = []
            tokens.append(_Field(char, count))
            i = end
        else:
            literal.append(char)
            i += 1
    if literal:
        tokens.append("".join(literal))
    return tuple(tokens)


def _field_regex(field: _Field, abutting: bool) -> str:
    letter, count = field.letter, field.count
    if field.numeric:
        if not abutting:  # Java reads as many digits as there are, unless the next field abuts
            return r"\d+"
        return rf"\d{{{max(count, 4) if letter == 'y' and count != 2 else count}}}"
    if letter in "MLE":
        return r"[A-Za-z]+"
    if letter == "a":
        return r"[AaPp][Mm]"
    return _ZONE_TEXT  # Z, X, x, z: any zone form is read, whatever form the pattern writes


def check_format(fmt: str) -> None:
    """Raise ValueError unless `fmt` is a format this module reads and writes."""
    if _kind(fmt) == "pattern":
        _compile(fmt)


def _kind(fmt: str | None) -> _Kind | None:
    if fmt is None:
        return None
    key = fmt.strip().lower().replace("-", "").replace("_", "")
    if key == "timestamp":
        return "timestamp"
    if key == "milliseconds":
        return "milliseconds"
    if key in ("iso8601", "iso", ""):
        return "iso"
    return "pattern"


# ---------------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------------


def format_instant(moment: datetime, fmt: str, tz: str | tzinfo | None = None) -> str | int:
    """`moment` in the format `fmt`: an int for `timestamp` (seconds) and `milliseconds`, else a string.

    ISO-8601 (and an empty format) is UTC with Z, its fraction as Java's Instant.toString writes it
    (none, 3 or 6 digits); a Java pattern is rendered in the zone `tz` (a name or a zone; default UTC).
    A naive `moment` is taken as UTC. Raises ValueError for an illegal pattern or an unknown zone.
    """
    moment = _aware(moment, UTC)
    kind = _kind(fmt)
    if kind == "timestamp":
        return (moment - EPOCH) // timedelta(seconds=1)
    if kind == "milliseconds":
        return (moment - EPOCH) // timedelta(milliseconds=1)
    if kind == "iso":
        return _iso(moment)
    return _render(moment.astimezone(tz if isinstance(tz, tzinfo) else zone(tz)), _compile(fmt).tokens)


def utc_iso(moment: datetime | float, *, millis: bool = False) -> str:
    """How this package writes an instant: `2026-11-27T10:00:00Z`, or `…T10:00:00.123Z` with `millis`.
    An epoch (seconds) or an aware datetime; a naive one is taken as UTC."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    text = _aware(moment, UTC).astimezone(UTC).isoformat(timespec="milliseconds" if millis else "seconds")
    return text.replace("+00:00", "Z")


def _iso(moment: datetime, fraction: bool = True) -> str:
    utc = moment.astimezone(UTC)
    text = f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
    if fraction and utc.microsecond:
        text += (
            f".{utc.microsecond // 1000:03d}" if utc.microsecond % 1000 == 0 else f".{utc.microsecond:06d}"
        )
    return text + "Z"


def _render(local: datetime, tokens: tuple[_Token, ...]) -> str:
    return "".join(token if isinstance(token, str) else _render_field(local, token) for token in tokens)


def _render_field(local: datetime, field: _Field) -> str:
    letter, count = field.letter, field.count
    if letter == "y":
        return f"{local.year % 100:02d}" if count == 2 else f"{local.year:0{count}d}"
    if letter in "ML":
        if count >= 4:
            return _MONTHS[local.month - 1]
        return _MONTHS[local.month - 1][:3] if count == 3 else f"{local.month:0{count}d}"
    if letter == "E":
        name = _DAYS[local.weekday()]
        return name if count >= 4 else name[:3]
    if letter == "S":
        digits = f"{local.microsecond:06d}"
        return digits[:count] if count <= 6 else digits + "0" * (count - 6)
    if letter == "a":
        return "AM" if local.hour < 12 else "PM"
    if letter in "ZXx":
        return _render_offset(local.utcoffset() or timedelta(0), letter, count)
    if letter == "z":
        return _short_zone_name(local)
    number = {
        "d": local.day,
        "H": local.hour,
        "h": local.hour % 12 or 12,
        "k": local.hour or 24,
        "K": local.hour % 12,
        "m": local.minute,
        "s": local.second,
    }[letter]
    return f"{number:0{count}d}"


def _render_offset(offset: timedelta, letter: str, count: int) -> str:
    seconds = int(offset.total_seconds())
    hours, minutes = divmod(abs(seconds) // 60, 60)  # seconds of an offset (historic zones) are dropped
    if letter == "X" and not (hours or minutes):
        return "Z"
    sign = "-" if seconds < 0 else "+"
    if letter == "Z" or count == 2:
        return f"{sign}{hours:02d}{minutes:02d}"
    if count == 1:
        return f"{sign}{hours:02d}" + (f"{minutes:02d}" if minutes else "")
    return f"{sign}{hours:02d}:{minutes:02d}"


def _short_zone_name(local: datetime) -> str:
    name = local.tzname()
    if name and name[0].isalpha() and not name.startswith(("UTC+", "UTC-")):
        return name
    # tzdb writes numeric abbreviations ("+06") for zones without a common one; Java writes GMT+06:00.
    offset = _render_offset(local.utcoffset() or timedelta(0), "x", 3)
    return "GMT" if offset == "+00:00" else f"GMT{offset}"


# ---------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def parse_instant(value: Any, fmt: str | None = None, tz: str | None = None) -> datetime | None:
    """A record's date field as an aware UTC datetime; None when it is empty or cannot be read.

    `fmt` as configured: `timestamp` reads numbers as Unix seconds, `milliseconds` as epoch ms, None
    either (above 10^11 it is ms). ISO-8601 strings are read with dateutil's isoparse, Java patterns
    with the pattern. A value the format does not fit is tried as a number, ISO-8601, then with
    dateutil's parser (day first when the pattern has the day first), so an ISO date still reads under a
    pattern. A date without an offset is in the zone `tz` (default UTC). Never raises on bad data;
    raises ValueError for bad configuration (an illegal pattern, an unknown zone).
    """
    kind = _kind(fmt)
    pattern = _compile(fmt) if kind == "pattern" and fmt is not None else None
    local = zone(tz)
    try:
        return _parse(value, kind, pattern, local)
    except (ValueError, ArithmeticError, TypeError):  # ArithmeticError: overflow, Decimal
        return None


def _parse(value: Any, kind: _Kind | None, pattern: _Pattern | None, local: tzinfo) -> datetime | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return _aware(value, local).astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=local).astimezone(UTC)
    if isinstance(value, int | float | Decimal):
        return _from_epoch(Decimal(value), kind)
    if not isinstance(value, str) or not (text := value.strip()):
        return None
    if pattern is not None and (parsed := _parse_pattern(text, pattern, local)) is not None:
        return parsed
    if _NUMBER.fullmatch(text):
        return _from_epoch(Decimal(text), kind)
    try:
        return _aware(dateutil_parser.isoparse(text), local).astimezone(UTC)
    except ValueError:
        pass
    parsed = dateutil_parser.parse(
        text,
        default=datetime(1970, 1, 1),
        dayfirst=pattern.day_first if pattern else False,
        tzinfos=_dateutil_zone,
    )
    return _aware(parsed, local).astimezone(UTC)


def _from_epoch(number: Decimal, kind: _Kind | None) -> datetime | None:
    """Epoch seconds or milliseconds; Decimal keeps 1795773600.123 exact down to the microsecond."""
    if not number.is_finite():
        return None
    in_ms = kind == "milliseconds" or (
        kind not in ("timestamp", "milliseconds") and abs(number) > EPOCH_MS_THRESHOLD
    )
    micros = number * (1000 if in_ms else 1_000_000)
    return EPOCH + timedelta(microseconds=int(micros.to_integral_value()))


def _dateutil_zone(name: str | None, offset: int | None) -> tzinfo | None:
    """dateutil's `tzinfos` hook: zone names in free text resolve as configured ones do."""
    if offset is not None:
        return timezone(timedelta(seconds=offset))
    return zone(name) if name else None  # an unknown name raises ValueError: the value is unreadable


def _parse_pattern(text: str, pattern: _Pattern, local: tzinfo) -> datetime | None:
    match = pattern.regex.fullmatch(text)
    if match is None:
        return None
    year, month, day, minute, second, micro = 1970, 1, 1, 0, 0, 0
    hours: dict[str, int] = {}
    pm: bool | None = None
    found_zone: tzinfo | None = None
    for field, text_value in zip(pattern.fields, match.groups(), strict=True):
        letter = field.letter
        if letter == "y":
            year = _year(text_value, field.count)
        elif letter in "ML":
            month = int(text_value) if field.numeric else _MONTH_NUMBERS.get(text_value.lower(), 0)
        elif letter == "d":
            day = int(text_value)
        elif letter in "HhkK":
            hours[letter] = int(text_value)
        elif letter == "m":
            minute = int(text_value)
        elif letter == "s":
            second = int(text_value)
        elif letter == "S":
            micro = int((text_value + "000000")[:6])
        elif letter == "a":
            pm = text_value.lower() == "pm"
        elif letter == "E":
            if text_value.lower() not in _DAY_NAMES:
                return None  # like Java, the day's name is checked but not compared with the date
        else:  # Z, X, x, z
            found_zone = zone(text_value)
    if "H" in hours:
        hour = hours["H"]
    elif "k" in hours:
        hour = 0 if hours["k"] == 24 else hours["k"]
    elif "h" in hours or "K" in hours:
        twelve = hours["h"] if "h" in hours else hours["K"]
        if twelve > (12 if "h" in hours else 11):
            return None
        hour = twelve % 12 + (12 if pm else 0)
    else:
        hour = 12 if pm else 0
    if month == 0:
        return None
    parsed = datetime(year, month, day, hour, minute, second, micro)
    return parsed.replace(tzinfo=found_zone or local).astimezone(UTC)


def _year(digits: str, count: int) -> int:
    year = int(digits)
    if count != 2 or len(digits) != 2:
        return year
    # SimpleDateFormat: a two-digit year lands within 80 years before and 20 after now.
    start = datetime.now(UTC).year - 80
    year += start // 100 * 100
    return year + 100 if year < start else year


def _aware(moment: datetime, default: tzinfo) -> datetime:
    """`moment` as it is when it knows its offset, else as a wall time in `default`."""
    if moment.tzinfo is not None and moment.utcoffset() is not None:
        return moment
    return moment.replace(tzinfo=default)


# ---------------------------------------------------------------------------------------------------
# URL macros
# ---------------------------------------------------------------------------------------------------

_MACRO = re.compile(r"\$\{([^{}]*)\}")
# dateTimeZone's zone ends at its first ':', unless it is an offset written with one (+05:30, GMT-03:00).
_ZONE_WITH_COLON = re.compile(r"((?:GMT|UTC|UT)?[+-]\d{1,2}:\d{2}):(.*)", re.IGNORECASE | re.DOTALL)
_EPOCH_UNITS = {"": timedelta(milliseconds=1), "ms": timedelta(milliseconds=1), "s": timedelta(seconds=1),
                "us": timedelta(microseconds=1)}  # fmt: skip


def expand_macros(url: str, last_poll: datetime, encode: Callable[[str], str] | None = None) -> str:
    """`url` with Open Connectors' date macros replaced by the last poll time.

    `${gmtDate:<pattern>}` (the Java pattern in GMT), `${date:<pattern>}` (in UTC),
    `${dateTimeZone:<zone>:<pattern>}`, `${epoch}` and `${epoch:ms}` (epoch ms), `${epoch:s}`,
    `${epoch:us}`, and a bare `${date}` (ISO-8601 UTC to the second, 2026-11-27T10:00:00Z). A naive
    `last_poll` is UTC. Other `${...}` are left as they are.

    Values are NOT URL-encoded here (a "+05:00" stays a "+", which a query string reads as a space);
    pass `encode` (e.g. `urllib.parse.quote`) to have each value encoded. Raises ValueError for a known
    macro with a bad argument (illegal pattern, unknown zone, unknown epoch unit).
    """
    moment = _aware(last_poll, UTC)

    def replace(match: re.Match[str]) -> str:
        value = _expand(match.group(1), moment)
        if value is None:
            return match.group(0)
        return encode(value) if encode else value

    return _MACRO.sub(replace, url)


def _expand(body: str, moment: datetime) -> str | None:
    name, colon, argument = body.partition(":")
    if name == "epoch":
        unit = argument if colon else ""
        if unit not in _EPOCH_UNITS or (colon and not unit):
            raise ValueError(f"unknown epoch unit in ${{{body}}}")
        return str((moment - EPOCH) // _EPOCH_UNITS[unit])
    if name == "date" and not colon:
        return _iso(moment, fraction=False)
    if name not in ("date", "gmtDate", "dateTimeZone"):
        return None
    if name == "dateTimeZone":
        if offset := _ZONE_WITH_COLON.fullmatch(argument):
            zone_name, pattern = offset.group(1), offset.group(2)
        else:
            zone_name, colon, pattern = argument.partition(":")
            if not colon:
                raise ValueError(f"${{{body}}} needs a zone and a pattern")
        if not zone_name.strip():
            raise ValueError(f"${{{body}}} needs a zone")
        where = zone(zone_name)
    else:
        pattern, where = argument, (_GMT if name == "gmtDate" else UTC)
    if not pattern:
        raise ValueError(f"${{{body}}} needs a pattern")
    return str(format_instant(moment, pattern, where))
