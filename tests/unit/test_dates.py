"""Open Connectors' poller dates (SPEC §7): formats, time zones, URL macros, against known answers.

The two instants, worked out by hand:
- WINTER 2026-11-27T10:00:00.123Z, a Friday: 20784 days after 1970-01-01 (56 years with 14 leap days,
  then 330 days of 2026), so 1795737600 + 36000 = 1795773600 s. New York is on EST (-05:00), Los
  Angeles on PST (-08:00).
- SUMMER 2026-07-04T15:30:45.500Z, a Saturday: 20638 days, so 1783123200 + 55845 = 1783179045 s. New
  York is on EDT (-04:00), Los Angeles on PDT (-07:00); EST stays -05:00 (Java's fixed offset).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from intercom_events import dates
from intercom_events.dates import check_format, expand_macros, format_instant, parse_instant, zone

WINTER = datetime(2026, 11, 27, 10, 0, 0, 123000, tzinfo=UTC)
SUMMER = datetime(2026, 7, 4, 15, 30, 45, 500000, tzinfo=UTC)
INSTANTS = {"winter": WINTER, "summer": SUMMER}


def utc(text: str) -> datetime:
    """A known answer written as ISO text, e.g. "2026-11-27T10:00:00Z"."""
    return datetime.fromisoformat(text)


# --- Every SPEC §7 pattern, formatted and read back -----------------------------------------------------

XXX = "yyyy-MM-dd'T'HH:mm:ssXXX"
QUOTED_Z = "yyyy-MM-dd'T'HH:mm:ss'Z'"
MILLIS_Z = "yyyy-MM-dd'T'HH:mm:ss.SSSZ"
DAY = "yyyy-MM-dd"
SLASHES = "yyyy/MM/dd HH:mm:ss"
US_DAY = "MM/dd/yyyy"
DAY_FIRST = "dd/MM/yyyy'T'HH:mm:ssXXX"
RFC_822 = "EEE, dd MMM yyyy HH:mm:ss Z"

# (zone, instant, pattern, the text, the instant read back from the text)
ROUND_TRIPS = [
    # UTC (no zone configured)
    (None, "winter", XXX, "2026-11-27T10:00:00Z", "2026-11-27T10:00:00Z"),
    (None, "winter", QUOTED_Z, "2026-11-27T10:00:00Z", "2026-11-27T10:00:00Z"),
    (None, "winter", MILLIS_Z, "2026-11-27T10:00:00.123+0000", "2026-11-27T10:00:00.123Z"),
    (None, "winter", DAY, "2026-11-27", "2026-11-27T00:00:00Z"),
    (None, "winter", SLASHES, "2026/11/27 10:00:00", "2026-11-27T10:00:00Z"),
    (None, "winter", US_DAY, "11/27/2026", "2026-11-27T00:00:00Z"),
    (None, "winter", DAY_FIRST, "27/11/2026T10:00:00Z", "2026-11-27T10:00:00Z"),
    (None, "winter", RFC_822, "Fri, 27 Nov 2026 10:00:00 +0000", "2026-11-27T10:00:00Z"),
    (None, "summer", XXX, "2026-07-04T15:30:45Z", "2026-07-04T15:30:45Z"),
    (None, "summer", MILLIS_Z, "2026-07-04T15:30:45.500+0000", "2026-07-04T15:30:45.500Z"),
    (None, "summer", RFC_822, "Sat, 04 Jul 2026 15:30:45 +0000", "2026-07-04T15:30:45Z"),
    # America/New_York in winter: EST, -05:00
    ("America/New_York", "winter", XXX, "2026-11-27T05:00:00-05:00", "2026-11-27T10:00:00Z"),
    ("America/New_York", "winter", QUOTED_Z, "2026-11-27T05:00:00Z", "2026-11-27T10:00:00Z"),
    ("America/New_York", "winter", MILLIS_Z, "2026-11-27T05:00:00.123-0500", "2026-11-27T10:00:00.123Z"),
    ("America/New_York", "winter", DAY, "2026-11-27", "2026-11-27T05:00:00Z"),
    ("America/New_York", "winter", SLASHES, "2026/11/27 05:00:00", "2026-11-27T10:00:00Z"),
    ("America/New_York", "winter", US_DAY, "11/27/2026", "2026-11-27T05:00:00Z"),
    ("America/New_York", "winter", DAY_FIRST, "27/11/2026T05:00:00-05:00", "2026-11-27T10:00:00Z"),
    ("America/New_York", "winter", RFC_822, "Fri, 27 Nov 2026 05:00:00 -0500", "2026-11-27T10:00:00Z"),
    # America/New_York in summer: EDT, -04:00
    ("America/New_York", "summer", XXX, "2026-07-04T11:30:45-04:00", "2026-07-04T15:30:45Z"),
    ("America/New_York", "summer", QUOTED_Z, "2026-07-04T11:30:45Z", "2026-07-04T15:30:45Z"),
    ("America/New_York", "summer", MILLIS_Z, "2026-07-04T11:30:45.500-0400", "2026-07-04T15:30:45.500Z"),
    ("America/New_York", "summer", DAY, "2026-07-04", "2026-07-04T04:00:00Z"),
    ("America/New_York", "summer", SLASHES, "2026/07/04 11:30:45", "2026-07-04T15:30:45Z"),
    ("America/New_York", "summer", US_DAY, "07/04/2026", "2026-07-04T04:00:00Z"),
    ("America/New_York", "summer", DAY_FIRST, "04/07/2026T11:30:45-04:00", "2026-07-04T15:30:45Z"),
    ("America/New_York", "summer", RFC_822, "Sat, 04 Jul 2026 11:30:45 -0400", "2026-07-04T15:30:45Z"),
    # EST: Java's fixed -05:00, summer included
    ("EST", "summer", XXX, "2026-07-04T10:30:45-05:00", "2026-07-04T15:30:45Z"),
    ("EST", "summer", QUOTED_Z, "2026-07-04T10:30:45Z", "2026-07-04T15:30:45Z"),
    ("EST", "summer", MILLIS_Z, "2026-07-04T10:30:45.500-0500", "2026-07-04T15:30:45.500Z"),
    ("EST", "summer", DAY, "2026-07-04", "2026-07-04T05:00:00Z"),
    ("EST", "summer", SLASHES, "2026/07/04 10:30:45", "2026-07-04T15:30:45Z"),
    ("EST", "summer", US_DAY, "07/04/2026", "2026-07-04T05:00:00Z"),
    ("EST", "summer", DAY_FIRST, "04/07/2026T10:30:45-05:00", "2026-07-04T15:30:45Z"),
    ("EST", "summer", RFC_822, "Sat, 04 Jul 2026 10:30:45 -0500", "2026-07-04T15:30:45Z"),
    ("EST", "winter", XXX, "2026-11-27T05:00:00-05:00", "2026-11-27T10:00:00Z"),
    # PST: Java's America/Los_Angeles, so -08:00 in winter and -07:00 in summer
    ("PST", "winter", XXX, "2026-11-27T02:00:00-08:00", "2026-11-27T10:00:00Z"),
    ("PST", "winter", QUOTED_Z, "2026-11-27T02:00:00Z", "2026-11-27T10:00:00Z"),
    ("PST", "winter", MILLIS_Z, "2026-11-27T02:00:00.123-0800", "2026-11-27T10:00:00.123Z"),
    ("PST", "winter", DAY, "2026-11-27", "2026-11-27T08:00:00Z"),
    ("PST", "winter", SLASHES, "2026/11/27 02:00:00", "2026-11-27T10:00:00Z"),
    ("PST", "winter", US_DAY, "11/27/2026", "2026-11-27T08:00:00Z"),
    ("PST", "winter", DAY_FIRST, "27/11/2026T02:00:00-08:00", "2026-11-27T10:00:00Z"),
    ("PST", "winter", RFC_822, "Fri, 27 Nov 2026 02:00:00 -0800", "2026-11-27T10:00:00Z"),
    ("PST", "summer", XXX, "2026-07-04T08:30:45-07:00", "2026-07-04T15:30:45Z"),
    ("PST", "summer", DAY, "2026-07-04", "2026-07-04T07:00:00Z"),
    ("PST", "summer", RFC_822, "Sat, 04 Jul 2026 08:30:45 -0700", "2026-07-04T15:30:45Z"),
    # +05:30: the local day starts at 18:30 UTC the day before
    ("+05:30", "winter", XXX, "2026-11-27T15:30:00+05:30", "2026-11-27T10:00:00Z"),
    ("+05:30", "winter", QUOTED_Z, "2026-11-27T15:30:00Z", "2026-11-27T10:00:00Z"),
    ("+05:30", "winter", MILLIS_Z, "2026-11-27T15:30:00.123+0530", "2026-11-27T10:00:00.123Z"),
    ("+05:30", "winter", DAY, "2026-11-27", "2026-11-26T18:30:00Z"),
    ("+05:30", "winter", SLASHES, "2026/11/27 15:30:00", "2026-11-27T10:00:00Z"),
    ("+05:30", "winter", US_DAY, "11/27/2026", "2026-11-26T18:30:00Z"),
    ("+05:30", "winter", DAY_FIRST, "27/11/2026T15:30:00+05:30", "2026-11-27T10:00:00Z"),
    ("+05:30", "winter", RFC_822, "Fri, 27 Nov 2026 15:30:00 +0530", "2026-11-27T10:00:00Z"),
    # GMT: UTC by another name
    ("GMT", "winter", XXX, "2026-11-27T10:00:00Z", "2026-11-27T10:00:00Z"),
    ("GMT", "winter", QUOTED_Z, "2026-11-27T10:00:00Z", "2026-11-27T10:00:00Z"),
    ("GMT", "winter", MILLIS_Z, "2026-11-27T10:00:00.123+0000", "2026-11-27T10:00:00.123Z"),
    ("GMT", "winter", DAY, "2026-11-27", "2026-11-27T00:00:00Z"),
    ("GMT", "winter", SLASHES, "2026/11/27 10:00:00", "2026-11-27T10:00:00Z"),
    ("GMT", "winter", US_DAY, "11/27/2026", "2026-11-27T00:00:00Z"),
    ("GMT", "winter", DAY_FIRST, "27/11/2026T10:00:00Z", "2026-11-27T10:00:00Z"),
    ("GMT", "summer", RFC_822, "Sat, 04 Jul 2026 15:30:45 +0000", "2026-07-04T15:30:45Z"),
]


@pytest.mark.parametrize(("tz", "instant", "pattern", "text", "_back"), ROUND_TRIPS)
def test_a_pattern_renders_the_instant_in_the_zone(tz, instant, pattern, text, _back):
    assert format_instant(INSTANTS[instant], pattern, tz) == text


@pytest.mark.parametrize(("tz", "_instant", "pattern", "text", "back"), ROUND_TRIPS)
def test_a_pattern_reads_the_text_back_to_the_instant(tz, _instant, pattern, text, back):
    parsed = parse_instant(text, pattern, tz)
    assert parsed == utc(back)
    assert parsed is not None and parsed.tzinfo is UTC


# --- Single pattern letters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "tz", "instant", "text"),
    [
        ("y", None, "winter", "2026"),
        ("yy", None, "winter", "26"),
        ("yyyy", None, "winter", "2026"),
        ("yyyyy", None, "winter", "02026"),
        ("M", None, "summer", "7"),
        ("MM", None, "summer", "07"),
        ("MMM", None, "summer", "Jul"),
        ("MMMM", None, "summer", "July"),
        ("MMMM", None, "winter", "November"),
        ("d", None, "summer", "4"),
        ("dd", None, "summer", "04"),
        ("H", "America/New_York", "winter", "5"),
        ("HH", "America/New_York", "winter", "05"),
        ("h a", None, "summer", "3 PM"),
        ("hh a", None, "winter", "10 AM"),
        ("hh:mm a", "+14:00", "winter", "12:00 AM"),  # midnight is 12 AM
        ("k", "+14:00", "winter", "24"),
        ("K", None, "summer", "3"),
        ("m:s", None, "summer", "30:45"),
        ("mm:ss", "America/New_York", "winter", "00:00"),
        ("S", None, "winter", "1"),
        ("SS", None, "winter", "12"),
        ("SSS", None, "winter", "123"),
        ("SSSSSS", None, "winter", "123000"),
        ("SSSSSSSSS", None, "winter", "123000000"),
        ("SSS", None, "summer", "500"),
        ("E", None, "winter", "Fri"),
        ("EEE", None, "summer", "Sat"),
        ("EEEE", None, "winter", "Friday"),
        ("EEEE", None, "summer", "Saturday"),
        ("Z", "America/New_York", "summer", "-0400"),
        ("X", None, "winter", "Z"),
        ("X", "America/New_York", "winter", "-05"),
        ("X", "+05:30", "winter", "+0530"),
        ("XX", None, "winter", "Z"),
        ("XX", "America/New_York", "winter", "-0500"),
        ("XXX", "+05:30", "winter", "+05:30"),
        ("x", None, "winter", "+00"),
        ("xxx", None, "winter", "+00:00"),
        ("z", None, "winter", "UTC"),
        ("z", "GMT", "winter", "GMT"),
        ("z", "America/New_York", "winter", "EST"),
        ("z", "America/New_York", "summer", "EDT"),
        ("z", "PST", "winter", "PST"),
        ("z", "PST", "summer", "PDT"),
        ("z", "EST", "summer", "EST"),
        ("z", "+05:30", "winter", "GMT+05:30"),
        ("z", "JST", "winter", "JST"),
        ("z", "BST", "winter", "GMT+06:00"),  # Java's BST is Asia/Dhaka; tzdb has no letters for it
    ],
)
def test_each_pattern_letter_renders_as_java_does(pattern, tz, instant, text):
    assert format_instant(INSTANTS[instant], pattern, tz) == text


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("yyyy-MM-dd'T'HH:mm:ss'Z'", "2026-11-27T10:00:00Z"),
        ("'Date:' yyyy", "Date: 2026"),
        ("hh 'o''clock' a", "10 o'clock AM"),
        ("''yy''", "'26'"),
        ("'It''s' EEEE", "It's Friday"),
        ("'yyyy-MM-dd'", "yyyy-MM-dd"),
        ("yyyy'':MM", "2026':11"),
    ],
)
def test_quoted_text_is_literal_and_two_quotes_are_one(pattern, text):
    assert format_instant(WINTER, pattern) == text
    assert parse_instant(text, pattern) is not None


@pytest.mark.parametrize(
    "pattern",
    ["yyyy-MM-dd'T", "qqq", "YYYY-MM-dd", "yyyy G", "zzzz", "SSSSSSSSSS", "u", "yyyy-MM-dd hh:mm:ss.fff"],
)
def test_an_illegal_or_unsupported_pattern_is_a_configuration_error(pattern):
    with pytest.raises(ValueError):
        check_format(pattern)
    with pytest.raises(ValueError):
        format_instant(WINTER, pattern)
    with pytest.raises(ValueError):
        parse_instant("2026-11-27", pattern)


@pytest.mark.parametrize("fmt", ["timestamp", "milliseconds", "iso8601", "ISO-8601", "iso", XXX, RFC_822])
def test_check_format_accepts_what_the_module_handles(fmt):
    check_format(fmt)


# --- timestamp, milliseconds, ISO-8601 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "fmt", "expected"),
    [
        (WINTER, "timestamp", 1795773600),
        (WINTER, "milliseconds", 1795773600123),
        (SUMMER, "timestamp", 1783179045),
        (SUMMER, "milliseconds", 1783179045500),
        (WINTER, "iso8601", "2026-11-27T10:00:00.123Z"),
        (WINTER, "ISO-8601", "2026-11-27T10:00:00.123Z"),
        (WINTER, "iso", "2026-11-27T10:00:00.123Z"),
        (WINTER, "", "2026-11-27T10:00:00.123Z"),
        (SUMMER, "iso", "2026-07-04T15:30:45.500Z"),
        (datetime(2026, 11, 27, 10, tzinfo=UTC), "iso", "2026-11-27T10:00:00Z"),
        (datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC), "iso", "2026-11-27T10:00:00.123456Z"),
        (datetime(2026, 11, 27, 5, tzinfo=ZoneInfo("America/New_York")), "iso", "2026-11-27T10:00:00Z"),
        (datetime(2026, 11, 27, 10, 0, 0, 123000), "milliseconds", 1795773600123),  # naive is UTC
        (datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC), "timestamp", -1),  # floor, as Java
        (datetime(1970, 1, 1, tzinfo=UTC), "milliseconds", 0),
    ],
)
def test_the_named_formats_render_epoch_numbers_and_iso_utc(moment, fmt, expected):
    assert format_instant(moment, fmt) == expected


def test_iso_ignores_the_zone_and_always_writes_utc():
    assert format_instant(WINTER, "iso8601", "America/New_York") == "2026-11-27T10:00:00.123Z"


@pytest.mark.parametrize(
    ("value", "fmt", "tz", "expected"),
    [
        # Unix seconds
        (1795773600, "timestamp", None, "2026-11-27T10:00:00Z"),
        ("1795773600", "timestamp", None, "2026-11-27T10:00:00Z"),
        (" 1795773600 ", "timestamp", None, "2026-11-27T10:00:00Z"),
        (1795773600.123, "timestamp", None, "2026-11-27T10:00:00.123Z"),
        ("1795773600.123", "timestamp", None, "2026-11-27T10:00:00.123Z"),
        (Decimal("1783179045.5"), "timestamp", None, "2026-07-04T15:30:45.500Z"),
        (1795773600, "timestamp", "America/New_York", "2026-11-27T10:00:00Z"),  # epochs have no zone
        (0, "timestamp", None, "1970-01-01T00:00:00Z"),
        (-1, "timestamp", None, "1969-12-31T23:59:59Z"),
        # epoch milliseconds
        (1795773600123, "milliseconds", None, "2026-11-27T10:00:00.123Z"),
        ("1795773600123", "milliseconds", None, "2026-11-27T10:00:00.123Z"),
        (1783179045500, "milliseconds", None, "2026-07-04T15:30:45.500Z"),
        (1795773600, "milliseconds", None, "1970-01-21T18:49:33.600Z"),  # as told, even when small
        # no format: above 10^11 the number is milliseconds
        (1795773600, None, None, "2026-11-27T10:00:00Z"),
        (1795773600123, None, None, "2026-11-27T10:00:00.123Z"),
        ("1795773600123", None, None, "2026-11-27T10:00:00.123Z"),
        (100_000_000_000, None, None, "5138-11-16T09:46:40Z"),  # 10^11 itself is still seconds
        (100_000_000_001, None, None, "1973-03-03T09:46:40.001Z"),  # one more is milliseconds
        # ISO-8601, with and without fraction and offset
        ("2026-11-27T10:00:00Z", "iso8601", None, "2026-11-27T10:00:00Z"),
        ("2026-11-27T10:00:00.123Z", "ISO-8601", None, "2026-11-27T10:00:00.123Z"),
        ("2026-11-27T10:00:00.123456Z", "iso", None, "2026-11-27T10:00:00.123456Z"),
        ("2026-11-27T05:00:00-05:00", "iso", None, "2026-11-27T10:00:00Z"),
        ("2026-11-27T15:30:00.123+05:30", "iso", None, "2026-11-27T10:00:00.123Z"),
        ("2026-11-27T10:00:00+0000", "iso", None, "2026-11-27T10:00:00Z"),
        ("2026-11-27T10:00:00", "iso", None, "2026-11-27T10:00:00Z"),  # naive: UTC
        ("2026-11-27T05:00:00", "iso", "America/New_York", "2026-11-27T10:00:00Z"),  # naive: the zone
        ("2026-07-04T11:30:45.5", "iso", "America/New_York", "2026-07-04T15:30:45.500Z"),
        ("2026-11-27T05:00:00-05:00", "iso", "Asia/Tokyo", "2026-11-27T10:00:00Z"),  # its offset wins
        ("2026-11-27", "iso", None, "2026-11-27T00:00:00Z"),
        ("2026-11-27", None, "+05:30", "2026-11-26T18:30:00Z"),
        ("2026-11-27T10:00:00.123Z", None, None, "2026-11-27T10:00:00.123Z"),
    ],
)
def test_a_record_date_is_read_as_configured(value, fmt, tz, expected):
    parsed = parse_instant(value, fmt, tz)
    assert parsed == utc(expected)
    assert parsed is not None and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "fmt", "tz", "expected"),
    [
        # a value the pattern does not fit is still read when it is unambiguous
        ("2026-11-27T10:00:00Z", DAY, None, "2026-11-27T10:00:00Z"),
        ("1795773600", DAY, None, "2026-11-27T10:00:00Z"),
        (1795773600123, XXX, None, "2026-11-27T10:00:00.123Z"),
        ("Fri, 27 Nov 2026 10:00:00 GMT", XXX, None, "2026-11-27T10:00:00Z"),
        ("2026-11-27T10:00:00Z", "timestamp", None, "2026-11-27T10:00:00Z"),
        # the fallback reads the day first when the pattern has it first, in the configured zone
        ("05/11/2026 10:00", DAY_FIRST, None, "2026-11-05T10:00:00Z"),
        ("05/11/2026 10:00", "MM/dd/yyyy HH:mm:ss", None, "2026-05-11T10:00:00Z"),
        ("27/11/2026 05:00", DAY_FIRST, "America/New_York", "2026-11-27T10:00:00Z"),
        ("2026-11-27 02:00:00 PST", None, None, "2026-11-27T10:00:00Z"),
        ("Nov 27 2026 05:00 EST", None, "PST", "2026-11-27T10:00:00Z"),
    ],
)
def test_a_value_that_does_not_fit_its_format_falls_back_to_a_lenient_read(value, fmt, tz, expected):
    assert parse_instant(value, fmt, tz) == utc(expected)


@pytest.mark.parametrize(
    ("value", "pattern", "tz", "expected"),
    [
        ("Fri, 27 Nov 2026 05:00:00 EST", "EEE, dd MMM yyyy HH:mm:ss z", None, "2026-11-27T10:00:00Z"),
        ("Sat, 04 Jul 2026 11:30:45 EDT", "EEE, dd MMM yyyy HH:mm:ss z", None, "2026-07-04T15:30:45Z"),
        (
            "Fri, 27 Nov 2026 02:00:00 PST",
            "EEE, dd MMM yyyy HH:mm:ss z",
            "Asia/Tokyo",
            "2026-11-27T10:00:00Z",
        ),
        ("Fri, 27 Nov 2026 10:00:00 GMT", "EEE, dd MMM yyyy HH:mm:ss z", None, "2026-11-27T10:00:00Z"),
        ("Fri, 27 Nov 2026 15:30:00 GMT+05:30", "EEE, dd MMM yyyy HH:mm:ss z", None, "2026-11-27T10:00:00Z"),
        ("FRIDAY, 27 november 2026", "EEEE, dd MMMM yyyy", None, "2026-11-27T00:00:00Z"),
        ("27 November 2026", "dd MMM yyyy", None, "2026-11-27T00:00:00Z"),  # Java reads long for short
        ("2026-11-27T05:00:00America/New_York", "yyyy-MM-dd'T'HH:mm:ssz", None, "2026-11-27T10:00:00Z"),
        ("2026-11-27T10:00:00+00", "yyyy-MM-dd'T'HH:mm:ssX", "PST", "2026-11-27T10:00:00Z"),
        ("2026-11-27T15:30:00+0530", "yyyy-MM-dd'T'HH:mm:ssXX", None, "2026-11-27T10:00:00Z"),
        ("2026-11-27T05:00:00-05:00", MILLIS_Z.replace(".SSS", ""), None, "2026-11-27T10:00:00Z"),
        ("20261127100000", "yyyyMMddHHmmss", None, "2026-11-27T10:00:00Z"),  # abutting fields
        ("20261127", "yyyyMMdd", "America/New_York", "2026-11-27T05:00:00Z"),
        ("2026-7-4 3:30:45 PM", "yyyy-M-d h:mm:ss a", None, "2026-07-04T15:30:45Z"),
        ("2026-11-27 12:00 AM", "yyyy-MM-dd hh:mm a", None, "2026-11-27T00:00:00Z"),
        ("2026-11-27 12:00 PM", "yyyy-MM-dd hh:mm a", None, "2026-11-27T12:00:00Z"),
        ("2026-11-27 24:00", "yyyy-MM-dd kk:mm", None, "2026-11-27T00:00:00Z"),
        ("11/27/26", "MM/dd/yy", None, "2026-11-27T00:00:00Z"),
        ("01/15/99", "MM/dd/yy", None, "1999-01-15T00:00:00Z"),  # within 80 years before now
        ("2026-11-27 10:00:00.5", "yyyy-MM-dd HH:mm:ss.S", None, "2026-11-27T10:00:00.500Z"),
        ("2026-11-27 10:00:00.123456", "yyyy-MM-dd HH:mm:ss.SSSSSS", None, "2026-11-27T10:00:00.123456Z"),
        # 01:30 on 1 November 2026 happens twice in New York: the first one (java.time's choice)
        ("2026-11-01 01:30", "yyyy-MM-dd HH:mm", "America/New_York", "2026-11-01T05:30:00Z"),
    ],
)
def test_patterns_read_zone_names_text_and_abutting_fields(value, pattern, tz, expected):
    assert parse_instant(value, pattern, tz) == utc(expected)


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", "garbage", "not a date", "2026-13-45", "tomorrow", "NaN", "1e10", True, False,
     float("nan"), float("inf"), 10**30, "9" * 40, [], {}, b"2026-11-27", object()],
)  # fmt: skip
@pytest.mark.parametrize("fmt", [None, "timestamp", "milliseconds", "iso8601"])
def test_garbage_reads_as_none(value, fmt):
    assert parse_instant(value, fmt) is None


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("2026-02-30", DAY),
        ("2026-11-27T25:00:00Z", XXX),
        ("Xyz, 27 Nov 2026 10:00:00 +0000", RFC_822),
        ("Fri, 27 Nov 2026 05:00:00 XYZ", "EEE, dd MMM yyyy HH:mm:ss z"),
        ("Fri, 27 Foo 2026 10:00:00 +0000", RFC_822),
        ("2026-11-27T10:00:00+25:00", XXX),
        ("13:00 PM", "hh:mm a"),
        ("garbage", US_DAY),
        ("", US_DAY),
    ],
)
def test_text_a_pattern_cannot_make_sense_of_reads_as_none(value, pattern):
    assert parse_instant(value, pattern) is None


def test_datetimes_and_dates_are_taken_as_they_are():
    assert parse_instant(datetime(2026, 11, 27, 5, tzinfo=ZoneInfo("America/New_York"))) == utc(
        "2026-11-27T10:00:00Z"
    )
    assert parse_instant(datetime(2026, 11, 27, 2), tz="PST") == utc("2026-11-27T10:00:00Z")
    assert parse_instant(date(2026, 11, 27), tz="+05:30") == utc("2026-11-26T18:30:00Z")


def test_a_bad_zone_is_a_configuration_error_not_bad_data():
    with pytest.raises(ValueError):
        parse_instant("2026-11-27T10:00:00Z", "iso", "Mars/Olympus_Mons")
    with pytest.raises(ValueError):
        format_instant(WINTER, XXX, "Mars/Olympus_Mons")


# --- Time zones --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "instant", "offset"),
    [
        (None, "winter", "+00:00"),
        ("", "winter", "+00:00"),
        ("UTC", "summer", "+00:00"),
        ("GMT", "summer", "+00:00"),
        ("Z", "winter", "+00:00"),
        ("utc", "winter", "+00:00"),
        ("Etc/UTC", "winter", "+00:00"),
        ("EST", "winter", "-05:00"),
        ("EST", "summer", "-05:00"),  # Java: fixed -05:00
        ("EDT", "winter", "-04:00"),
        ("CST", "winter", "-06:00"),  # Java: America/Chicago
        ("CST", "summer", "-05:00"),
        ("CDT", "winter", "-05:00"),
        ("MST", "summer", "-07:00"),  # Java: fixed -07:00
        ("MDT", "winter", "-06:00"),
        ("PST", "winter", "-08:00"),  # Java: America/Los_Angeles
        ("PST", "summer", "-07:00"),
        ("PDT", "winter", "-07:00"),
        ("HST", "summer", "-10:00"),
        ("BST", "summer", "+06:00"),  # Java: Asia/Dhaka, not British Summer Time
        ("CET", "winter", "+01:00"),  # the IANA zone CET, with summer time as in Java
        ("CET", "summer", "+02:00"),
        ("CEST", "winter", "+02:00"),
        ("IST", "winter", "+05:30"),  # Java: Asia/Kolkata
        ("JST", "summer", "+09:00"),
        ("AEST", "summer", "+10:00"),
        ("America/New_York", "winter", "-05:00"),
        ("America/New_York", "summer", "-04:00"),
        ("Europe/London", "summer", "+01:00"),
        ("Asia/Kathmandu", "winter", "+05:45"),
        ("+05:30", "winter", "+05:30"),
        ("+0530", "winter", "+05:30"),
        ("-0800", "summer", "-08:00"),
        ("-03", "summer", "-03:00"),
        ("GMT+01:00", "winter", "+01:00"),
        ("GMT-0330", "winter", "-03:30"),
        ("UTC-5", "summer", "-05:00"),
        ("UTC+05:45", "summer", "+05:45"),
        ("+18:00", "winter", "+18:00"),
    ],
)
def test_zone_names_resolve_to_their_offset(name, instant, offset):
    local = INSTANTS[instant].astimezone(zone(name))
    assert local.isoformat()[-6:] == offset


@pytest.mark.parametrize(
    "name",
    ["Mars/Olympus_Mons", "XYZ", "+25:00", "+05:75", "+18:30", "GMT+", "UTC+ 5", "/etc/localtime",
     "../../etc/passwd", "America/New York", "+5:3"],
)  # fmt: skip
def test_an_unknown_zone_is_refused(name):
    with pytest.raises(ValueError):
        zone(name)


@pytest.fixture
def no_system_tz_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def missing(key: str) -> ZoneInfo:
        raise ZoneInfoNotFoundError(key)

    dates._zone.cache_clear()
    monkeypatch.setattr(dates, "ZoneInfo", missing)
    yield
    dates._zone.cache_clear()


@pytest.mark.usefixtures("no_system_tz_database")
def test_without_a_system_tz_database_the_copy_in_dateutil_answers():
    assert WINTER.astimezone(zone("America/New_York")).utcoffset() == timedelta(hours=-5)
    assert SUMMER.astimezone(zone("PST")).utcoffset() == timedelta(hours=-7)
    assert format_instant(SUMMER, "yyyy-MM-dd HH:mm z", "America/New_York") == "2026-07-04 11:30 EDT"
    with pytest.raises(ValueError):
        zone("Mars/Olympus_Mons")


# --- URL macros --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("${date}", "2026-11-27T10:00:00Z"),
        ("${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}", "2026-11-27T10:00:00Z"),
        ("${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSZ}", "2026-11-27T10:00:00.123+0000"),
        ("${gmtDate:EEE, dd MMM yyyy HH:mm:ss z}", "Fri, 27 Nov 2026 10:00:00 GMT"),
        ("${date:yyyy-MM-dd}", "2026-11-27"),
        ("${date:yyyy-MM-dd'T'HH:mm:ssXXX}", "2026-11-27T10:00:00Z"),
        ("${date:HH:mm z}", "10:00 UTC"),
        ("${dateTimeZone:America/New_York:yyyy-MM-dd'T'HH:mm:ssXXX}", "2026-11-27T05:00:00-05:00"),
        ("${dateTimeZone:PST:yyyy-MM-dd HH:mm:ss}", "2026-11-27 02:00:00"),
        ("${dateTimeZone:EST:HH:mm z}", "05:00 EST"),
        ("${dateTimeZone:GMT:HH:mm}", "10:00"),
        ("${dateTimeZone:+05:30:yyyy-MM-dd HH:mm}", "2026-11-27 15:30"),
        ("${dateTimeZone:-0800:HH:mm}", "02:00"),
        ("${dateTimeZone:GMT+01:00:HH:mm:ss}", "11:00:00"),
        ("${dateTimeZone:UTC-5:HH:mm}", "05:00"),
        ("${dateTimeZone:Asia/Tokyo:MM/dd/yyyy hh:mm a}", "11/27/2026 07:00 PM"),
        ("${epoch}", "1795773600123"),
        ("${epoch:ms}", "1795773600123"),
        ("${epoch:s}", "1795773600"),
        ("${epoch:us}", "1795773600123000"),
    ],
)
def test_each_macro_renders_the_last_poll_time(url, expected):
    assert expand_macros(url, WINTER) == expected


def test_macros_are_replaced_in_place_and_everything_else_is_kept():
    url = (
        "/hubs/marketing/contacts?where=updated_at >= '${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}'"
        " and created > ${epoch:s}&since=${date}&orderBy=updated_at asc"
    )
    assert expand_macros(url, WINTER) == (
        "/hubs/marketing/contacts?where=updated_at >= '2026-11-27T10:00:00Z'"
        " and created > 1795773600&since=2026-11-27T10:00:00Z&orderBy=updated_at asc"
    )


@pytest.mark.parametrize(
    "url",
    ["/contacts?x=${foo}", "${dateFoo:yyyy}", "${Date}", "${ date}", "${}", "$date", "${date", "{date}",
     "${gmtdate:yyyy}", "/contacts/search"],
)  # fmt: skip
def test_unknown_macros_and_plain_text_are_left_untouched(url):
    assert expand_macros(url, WINTER) == url


def test_values_are_not_url_encoded_unless_asked():
    url = "/contacts?since=${dateTimeZone:+05:30:yyyy-MM-dd'T'HH:mm:ssXXX}"
    assert expand_macros(url, WINTER) == "/contacts?since=2026-11-27T15:30:00+05:30"
    assert expand_macros(url, WINTER, encode=quote) == "/contacts?since=2026-11-27T15%3A30%3A00%2B05%3A30"


def test_a_naive_last_poll_time_is_utc():
    assert (
        expand_macros("${date} ${epoch:s}", datetime(2026, 11, 27, 10)) == "2026-11-27T10:00:00Z 1795773600"
    )


def test_the_bare_date_macro_drops_the_fraction_without_rounding():
    assert (
        expand_macros("${date}", datetime(2026, 11, 27, 9, 59, 59, 999999, tzinfo=UTC))
        == "2026-11-27T09:59:59Z"
    )


@pytest.mark.parametrize(
    "url",
    ["${date:qqq}", "${gmtDate:yyyy-MM-dd'T}", "${date:}", "${dateTimeZone:Mars/Base:yyyy}",
     "${dateTimeZone:America/New_York}", "${dateTimeZone::yyyy}", "${epoch:ns}", "${epoch:}"],
)  # fmt: skip
def test_a_known_macro_with_a_bad_argument_is_a_configuration_error(url):
    with pytest.raises(ValueError):
        expand_macros(url, WINTER)
