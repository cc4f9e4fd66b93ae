"""The resume point as stored on a cursor item (store.cursors.Resume): the names it has always had."""

from __future__ import annotations

from decimal import Decimal

from intercom_events.store.cursors import Cursor, Resume

# A resume point as a release before the typed one wrote it, read back through store.items.from_item.
STORED = {
    "until": 1800000600.25,
    "start": 1800000000,
    "cursor": "WzE3OTU3NzM2MDAsIjEyMyJd",
    "pass": 2,
    "total": 450,
    "savedAt": 1800000610.5,
}


def test_a_resume_point_saved_by_the_previous_release_loads():
    assert Resume.from_item(STORED) == Resume(
        until=1800000600.25,
        start=1800000000.0,
        cursor="WzE3OTU3NzM2MDAsIjEyMyJd",
        pass_number=2,
        total=450,
        saved_at=1800000610.5,
    )


def test_a_resume_point_is_stored_under_the_same_names():
    resume = Resume.from_item(STORED)
    assert resume is not None and resume.as_item() == STORED


def test_numbers_as_dynamodb_gives_them_back_are_read():
    raw = {"until": Decimal("1800000600.25"), "start": Decimal("1800000000"), "pass": Decimal("1")}
    assert Resume.from_item(raw) == Resume(until=1800000600.25, start=1800000000.0, cursor=None)


def test_a_cursor_without_a_resume_point_or_without_its_window_resumes_nothing():
    assert Cursor(since=1800000000).resume_point is None
    assert Cursor(since=1800000000, resume={}).resume_point is None
    assert Resume.from_item({"cursor": "abc", "pass": 1}) is None


def test_a_cursor_reads_its_stored_resume_point_typed():
    assert Cursor(since=1800000000, resume=STORED).resume_point == Resume.from_item(STORED)
