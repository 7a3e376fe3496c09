"""A signed link records once across processes and threads, not only within one process."""

from __future__ import annotations

import logging
import multiprocessing
import re
import sqlite3
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from alerts.flag import flag_key
from alerts.links import FlagLink
from haidang.store.fts import utc_key
from haidang.store.schema import migrate
from haidang.store.sqlite import SqliteStore
from haidang.web import create_app
from haidang.web.respond import record_response

from .conftest import RECIPIENT, SECRET, T0, WebKit, build_article

ROUNDS = 12
WAIT_S = 60


def _link(n: int) -> FlagLink:
    article = build_article("goc")
    return FlagLink(flag_key=flag_key("tin_sai", f"story-{n}", RECIPIENT), rule="tin_sai", story_id=f"story-{n}",
                    article_id=article.id, recipient=RECIPIENT, action="de_nghi_go_bo", expires=2**40)


class _Refusals(logging.Handler):
    """Counts the second submits the store itself refused (not caught by the check before it)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "already used" in record.getMessage():
            self.count += 1


def _submit_all(db: str, who: int, barrier: Any, results: Any) -> None:
    """One process: its own store connection, the same links as the other, each after the barrier."""
    refusals = _Refusals()
    logging.getLogger("haidang.web.respond").addHandler(refusals)
    logging.getLogger("haidang.web.respond").setLevel(logging.INFO)
    article = build_article("goc")
    outcome = []
    with SqliteStore(db) as store:
        for n in range(ROUNDS):
            barrier.wait(WAIT_S)
            got = record_response(store, _link(n), article, note=f"tiến trình {who}", rebuttal_url=None,
                                  client=None, now=T0 + timedelta(minutes=n))
            outcome.append(got)
    results.put((who, outcome, refusals.count))


def test_two_processes_submitting_the_same_links_record_each_once(tmp_path: Path) -> None:
    db = str(tmp_path / "haidang.sqlite3")
    SqliteStore(db).close()                      # migrations run once, before the race
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [ctx.Process(target=_submit_all, args=(db, who, barrier, results)) for who in (0, 1)]
    for p in procs:
        p.start()
    try:
        got = {who: (outcome, refused) for who, outcome, refused in
               (results.get(timeout=WAIT_S * 2) for _ in procs)}
    finally:
        for p in procs:
            p.join(timeout=WAIT_S)
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs)
    for n in range(ROUNDS):
        ids = [got[0][0][n], got[1][0][n]]
        assert sum(i is not None for i in ids) == 1, f"link {n}: {ids}"
    with SqliteStore(db) as store:
        actions = store.actions()
        assert len(actions) == ROUNDS
        assert len({a.link_id for a in actions}) == ROUNDS
        assert len([e for e in store.audit() if e.kind == "action"]) == ROUNDS
    # How many second submits got past the check-then-record and were stopped by the store is
    # up to the scheduler; it is logged for the report, not asserted.
    logging.getLogger(__name__).info("store refused %d of %d racing second submits",
                                     got[0][1] + got[1][1], ROUNDS)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def test_two_browsers_posting_one_link_at_once_record_once(kit: WebKit) -> None:
    """Two clients (two tabs, or a forwarded email) post the same link at the same moment; the app
    opens a store per request, so the requests race in the store. One is recorded, the other
    sees "Đường dẫn đã được sử dụng"."""
    path = kit.path("de_nghi_go_bo")
    second = TestClient(create_app(kit.settings, kit.open, SECRET, now=kit.clock), base_url="http://testserver")
    barrier = threading.Barrier(2, timeout=WAIT_S)
    statuses: list[int] = []
    texts: list[str] = []

    def post(client: TestClient) -> None:
        token = _csrf(client.get(path).text)
        barrier.wait()
        page = client.post(path, data={"csrf": token, "note": "gửi cùng lúc"})
        statuses.append(page.status_code)
        texts.append(page.text)

    with second:
        threads = [threading.Thread(target=post, args=(c,)) for c in (kit.client, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=WAIT_S)
    assert sorted(statuses) == [200, 410]
    assert any("Đường dẫn đã được sử dụng" in t for t in texts)
    store = kit.open()
    try:
        assert len(store.actions()) == 1
        assert [e.kind for e in store.audit()] == ["action"]
    finally:
        store.close()


def test_actions_from_before_link_ids_still_use_their_link_up(tmp_path: Path) -> None:
    """A database at schema 7 with an action on it: migration 0008 keeps the row (link_id NULL),
    and the same link, submitted after the upgrade, records nothing."""
    db = tmp_path / "haidang.sqlite3"
    link = _link(1)
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        migrate(conn, str(db), target=7)
        conn.execute("INSERT INTO response_actions (flag_key, story_id, article_id, rule, action, actor, at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", (link.flag_key, link.story_id, link.article_id, link.rule,
                                                      link.action, RECIPIENT, utc_key(T0)))
    finally:
        conn.close()
    with SqliteStore(db) as store:
        [old] = store.actions()
        assert old.link_id is None and old.action == "de_nghi_go_bo"
        assert record_response(store, link, build_article("goc"), note=None, rebuttal_url=None, client=None,
                               now=T0) is None
        assert record_response(store, _link(2), build_article("goc"), note=None, rebuttal_url=None, client=None,
                               now=T0) is not None
        assert [a.link_id for a in store.actions()] == [None, f"{_link(2).flag_key}-de_nghi_go_bo"]
