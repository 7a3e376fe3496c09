"""`haidang migrate --to elasticsearch` (haidang.store.migrate): resumable and idempotent.

Needs a cluster: runs when ELASTICSEARCH_URL is set (.ci/standin-es points it at the noida-db
stand-in, which is not Elasticsearch) and is skipped otherwise.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from haidang.settings import StoreSettings
from haidang.store import open_store
from haidang.store.base import AuditEntry, HostPause, KnownClaim, OutboxMessage, ResponseAction
from haidang.store.migrate import migrate_store
from haidang.store.sqlite import SqliteStore
from tests.contract.conftest import T0, build_article

pytestmark = pytest.mark.elasticsearch


@pytest.fixture
def target() -> Iterator[Any]:
    url = os.environ.get("ELASTICSEARCH_URL")
    if not url:
        pytest.skip("ELASTICSEARCH_URL is not set: migrating needs a cluster")
    store = open_store(StoreSettings(backend="elasticsearch", elasticsearch_url=url,
                                     elasticsearch_prefix=f"hdmig-{uuid.uuid4().hex[:12]}"))
    yield store
    store.delete_all()  # type: ignore[attr-defined]
    store.close()


@pytest.fixture
def source(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "src.sqlite3")
    for i in range(23):
        store.upsert(build_article(f"m{i}", f"Tin số {i}", "Kinh tế biển đảo Lý Sơn phát triển mạnh. " * 4,
                                   first_seen=T0 + timedelta(minutes=i), story_id=f"s{i % 5}"))
    store.enqueue(OutboxMessage(key="k1", flag_rule="tin_sai", story_id="s1", recipient="a@example.vn",
                                message_id="<k1@haidang.local>", subject="Cờ", text="t", html="<p>t</p>",
                                created_at=T0, attachments=["/srv/haidang/reports/bao-cao.docx"], article_id="a"))
    store.mark_retry("k1", "no answer after the message", T0, handed_over=True)
    store.mark_sent("k1", T0 + timedelta(minutes=1))
    store.record_action(ResponseAction(flag_key="k1", story_id="s1", article_id="a", rule="tin_sai",
                                       action="phan_bac", actor="canbo@example.vn", at=T0))
    store.append_audit(AuditEntry(at=T0, actor="admin", kind="login", target="-", detail={}))
    claim = store.propose_claim(KnownClaim(text="Tin đồn vỡ đập Sông Tranh", signature=[1, 2, 3, 4]))
    store.confirm_claim(claim)
    now = datetime.now(UTC)
    for host, until in (("baoquangngai.vn", now + timedelta(hours=1)), ("ended.vn", now - timedelta(hours=1))):
        store.set_host_pause(HostPause(host=host, until=until, source_id="baoquangngai", url=f"https://{host}/rss",
                                       status=429, asked_s=3600.0, at=until - timedelta(hours=1)))
    yield store
    store.close()


class _Interrupted(Exception):
    pass


class _FailsAfter:
    """Passes calls through to the target and stops the run after `batches` bulk batches."""

    def __init__(self, inner: Any, batches: int) -> None:
        self._inner, self._left = inner, batches

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def upsert_many(self, articles: list[Any]) -> list[str]:
        if self._left == 0:
            raise _Interrupted
        self._left -= 1
        return self._inner.upsert_many(articles)


def test_migrate_copies_everything_and_twice_adds_nothing(source: SqliteStore, target: Any, tmp_path: Path) -> None:
    report = migrate_store(source, target, tmp_path / "ck.json", batch=10)
    assert report.articles == {"new": 23}
    assert (report.outbox, report.actions, report.audit, report.claims) == (1, 1, 2, 1)
    assert target.count() == 23
    assert target.get(build_article("m3", "x").id).to_dict() == source.get(build_article("m3", "x").id).to_dict()
    [msg] = target.outbox()
    assert msg.status == "sent" and msg.attempts == 2 and msg.sent_at == T0 + timedelta(minutes=1)
    assert msg.handed_over == 1 and msg.attachments == ["/srv/haidang/reports/bao-cao.docx"] and msg.article_id == "a"
    assert [a.action for a in target.actions()] == ["phan_bac"]
    assert [e.kind for e in target.audit()] == [e.kind for e in source.audit()]
    assert [c.status for c in target.known_claims()] == ["confirmed"]
    # The pause still in force comes along (the cluster's next crawl must not ask early); ended ones do not.
    assert report.host_pauses == 1 and target.host_pauses() == source.host_pauses(datetime.now(UTC))
    again = migrate_store(source, target, tmp_path / "ck.json", batch=10)
    assert again.articles == {"unchanged": 23}
    assert (again.outbox, again.actions, again.audit) == (0, 0, 0)
    assert target.count() == 23 and len(target.audit()) == 2


def test_migrate_resumes_after_an_interruption(source: SqliteStore, target: Any, tmp_path: Path) -> None:
    checkpoint = tmp_path / "ck.json"
    with pytest.raises(_Interrupted):
        migrate_store(source, _FailsAfter(target, 1), checkpoint, batch=10)
    assert target.count() == 10 and checkpoint.exists()
    report = migrate_store(source, target, checkpoint, batch=10)
    assert report.skipped_by_checkpoint == 10 and report.articles == {"new": 13}
    assert target.count() == 23 and not checkpoint.exists()
