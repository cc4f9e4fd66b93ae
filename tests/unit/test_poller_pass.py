"""One resource's pass, page by page: read, take, checkpoint (logic.polling.ResourcePoller), with Intercom,
the cursors and the queue as in-memory fakes: no AWS, no network."""

from __future__ import annotations

from typing import Any

import pytest
from intercom_events.intercom.client import Page
from intercom_events.logic import polling
from intercom_events.models.instance import Instance
from intercom_events.models.poller_config import ResourcePoll
from intercom_events.store.cursors import Cursor, Resume

CREATED = 1_800_000_000.0  # the instance's creation: the floor
NOW = CREATED + 600


class Store:
    """The cursors and the queue, in memory."""

    def __init__(self) -> None:
        self.cursor: Cursor | None = None
        self.saves: list[Cursor] = []
        self.seen: dict[str, float] = {}
        self.sent: list[str] = []

    def load(self, instance_id: int, resource: str) -> Cursor | None:
        return self.cursor

    def save(self, instance_id: int, resource: str, cursor: Cursor) -> None:
        self.cursor = cursor
        self.saves.append(cursor)

    def sent_versions(self, instance_id: int, scope: str, ids: list[str]) -> dict[str, float]:
        return {rid: self.seen[rid] for rid in ids if rid in self.seen}

    def mark_sent(self, instance_id: int, scope: str, groups: list[dict[str, float]], *args: Any) -> None:
        for group in groups:
            self.seen.update(group)

    def send(self, jobs: list[Any]) -> None:
        self.sent += [event.objectId for job in jobs for event in job.events]


class Intercom:
    """Search pages of two records each, newest first; `asked` keeps each page's starting_after."""

    def __init__(self, versions: list[float]) -> None:
        self.records = [{"id": str(i), "updated_at": v, "created_at": v} for i, v in enumerate(versions)]
        self.asked: list[str | None] = []

    def search_page(self, resource: str, query: Any, *, starting_after: str | None = None, **_: Any) -> Page:
        self.asked.append(starting_after)
        offset = int(starting_after or 0)
        more = offset + 2 < len(self.records)
        return Page(self.records[offset : offset + 2], str(offset + 2) if more else None, len(self.records))


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    store = Store()
    for name in ("load", "save", "sent_versions", "mark_sent"):
        monkeypatch.setattr(polling.cursors, name, getattr(store, name))
    monkeypatch.setattr(polling.queue, "send", store.send)
    return store


def poller(intercom: Intercom, time_left: Any = lambda: 300.0) -> polling.ResourcePoller:
    instance = Instance(
        id=1,
        owner_id=1,
        owner_name="developer",
        name="Polling",
        tags=[],
        configuration={},
        created_date="2027-01-15T08:00:00Z",
    )
    entry = ResourcePoll(url="/conversations/search")
    return polling.ResourcePoller(
        instance, "conversations", entry, intercom, time_left, lambda: NOW, CREATED, {}
    )


def test_a_pass_cut_short_saves_where_it_stopped_and_the_next_run_resumes_there(store):
    intercom = Intercom([CREATED + 500, CREATED + 400, CREATED + 300, CREATED + 200])
    pages = iter([300.0, 0.0])  # time runs out before the second page

    first = poller(intercom, lambda: next(pages))
    first.run()

    assert first.out_of_time and store.sent == ["0", "1"]
    assert store.cursor == Cursor(
        since=CREATED,
        resume=Resume(until=NOW, start=CREATED, cursor="2", pass_number=1, total=4, saved_at=NOW).as_item(),
    )

    poller(intercom).run()

    assert intercom.asked == [None, "2"] and store.sent == ["0", "1", "2", "3"]
    assert store.cursor == Cursor(since=NOW)  # the next window starts where this pass started


def test_pages_that_send_nothing_keep_one_resume_point_per_quiet_stretch(store):
    intercom = Intercom([CREATED + 500 - 10 * i for i in range(6)])  # three pages
    poller(intercom).run()
    store.saves.clear()
    store.cursor = Cursor(since=CREATED)  # the same window read again (a retried poll): all known

    poller(intercom).run()

    assert store.sent == ["0", "1", "2", "3", "4", "5"]
    resume = Resume(until=NOW, start=CREATED, cursor="2", pass_number=1, total=6, saved_at=NOW)
    assert store.saves == [Cursor(since=CREATED, resume=resume.as_item()), Cursor(since=NOW)]
