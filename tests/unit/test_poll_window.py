"""The poll window (logic.polling.poll_window): the floor, the look-back, pollDelay, a resumed pass.

Pure decisions: no AWS, no Intercom.
"""

from __future__ import annotations

from intercom_events.logic.polling import (
    DEFAULT_INDEX_LAG_SECONDS,
    INDEX_LAG_SECONDS,
    Window,
    index_lag,
    poll_window,
)
from intercom_events.store.cursors import Resume

FLOOR = 1_800_000_000.0  # the instance's creation (or when polling was turned on)
NOW = FLOOR + 86_400
LAG = 120.0


def window(since: float, resume: Resume | None = None, poll_delay: float = 0, lag: float = LAG) -> Window:
    return poll_window(since, resume, floor=FLOOR, now=NOW, poll_delay=poll_delay, lag=lag)


def test_a_new_pass_reaches_back_from_the_previous_pass_by_the_index_lag_and_runs_to_now():
    since = FLOOR + 3600
    assert window(since) == Window(start=since - LAG, until=NOW, resume=None)


def test_poll_delay_reaches_further_back_by_its_seconds():
    since = FLOOR + 3600
    assert window(since, poll_delay=900).start == since - 900 - LAG


def test_the_look_back_never_reaches_behind_the_floor():
    assert window(FLOOR + 60, poll_delay=900).start == FLOOR


def test_the_first_poll_and_a_cursor_older_than_polling_open_at_the_floor():
    assert window(FLOOR).start == FLOOR  # no cursor: the poller starts from the floor
    assert window(FLOOR - 30 * 86_400, poll_delay=60).start == FLOOR


def test_a_resumed_pass_keeps_its_own_window_and_where_it_stopped():
    resume = Resume(until=NOW - 600, start=FLOOR + 100, cursor="page-3", pass_number=2, total=450)
    assert window(FLOOR + 5000, resume, poll_delay=900) == Window(FLOOR + 100, NOW - 600, resume)


def test_a_resumed_window_reaching_behind_the_floor_is_held_to_it():
    resume = Resume(until=NOW - 600, start=FLOOR - 3600, cursor="page-3")
    assert window(FLOOR, resume).start == FLOOR


def test_a_pass_cut_short_before_polling_last_started_is_not_resumed():
    stale = Resume(until=FLOOR - 1, start=FLOOR - 3600, cursor="page-9")
    assert window(FLOOR, stale) == Window(FLOOR, NOW, None)


def test_contacts_look_back_further_than_other_resources_for_intercoms_indexing_lag():
    assert index_lag("contacts") == INDEX_LAG_SECONDS["contacts"] > DEFAULT_INDEX_LAG_SECONDS
    assert index_lag("conversations") == DEFAULT_INDEX_LAG_SECONDS
