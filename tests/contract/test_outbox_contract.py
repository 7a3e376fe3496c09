"""Email-outbox behaviour of every Store: enqueue once, due order, sent/retry/failed bookkeeping."""

from __future__ import annotations

from datetime import timedelta

import pytest

from haidang.store.base import OutboxMessage, Store

from .conftest import T0


def _msg(key: str, recipient: str = "a@example.vn", **kw: object) -> OutboxMessage:
    return OutboxMessage(key=key, flag_rule="tin_sai", story_id="story-1", recipient=recipient,
                         message_id=f"<{key}@haidang.local>", subject="Tiêu đề", text="nội dung",
                         html="<p>nội dung</p>", **kw)  # type: ignore[arg-type]


def test_backend_implements_outbox_methods(store: Store) -> None:
    for name in ("enqueue", "due_messages", "mark_sent", "mark_retry", "mark_failed", "outbox"):
        assert callable(getattr(store, name))


def test_enqueue_keeps_every_field_and_is_idempotent(store: Store) -> None:
    assert store.enqueue(_msg("k1", created_at=T0)) is True
    assert store.enqueue(_msg("k1", recipient="other@example.vn", created_at=T0)) is False
    [row] = store.outbox()
    assert (row.key, row.recipient, row.message_id, row.subject, row.text, row.html) == (
        "k1", "a@example.vn", "<k1@haidang.local>", "Tiêu đề", "nội dung", "<p>nội dung</p>")
    assert row.status == "pending" and row.attempts == 0 and row.last_error is None
    assert row.created_at == T0 and row.next_attempt_at == T0 and row.sent_at is None
    assert row.attachments == [] and row.handed_over == 0


def test_attachment_paths_are_kept_in_order(store: Store) -> None:
    files = ["/srv/haidang/reports/bao-cao-2026-01-01-2026-06-11.docx", "/srv/haidang/reports/báo cáo.xlsx"]
    store.enqueue(_msg("k1", created_at=T0, attachments=files))
    [due] = store.due_messages(T0)
    assert due.attachments == files and store.outbox()[0].attachments == files


def test_enqueue_never_revives_a_sent_message(store: Store) -> None:
    store.enqueue(_msg("k1", created_at=T0))
    store.mark_sent("k1", T0)
    assert store.enqueue(_msg("k1", created_at=T0)) is False
    assert store.due_messages(T0 + timedelta(days=1)) == []


def test_due_messages_respects_time_order_and_limit(store: Store) -> None:
    store.enqueue(_msg("late", created_at=T0, next_attempt_at=T0 + timedelta(minutes=10)))
    store.enqueue(_msg("early", created_at=T0))
    store.enqueue(_msg("mid", created_at=T0, next_attempt_at=T0 + timedelta(minutes=5)))
    assert [m.key for m in store.due_messages(T0)] == ["early"]
    assert [m.key for m in store.due_messages(T0 + timedelta(minutes=10))] == ["early", "mid", "late"]
    assert [m.key for m in store.due_messages(T0 + timedelta(minutes=10), limit=2)] == ["early", "mid"]


def test_mark_retry_counts_attempts_and_postpones(store: Store) -> None:
    store.enqueue(_msg("k1", created_at=T0))
    store.mark_retry("k1", "451 thử lại sau", T0 + timedelta(minutes=2))
    assert store.due_messages(T0 + timedelta(minutes=1)) == []
    [due] = store.due_messages(T0 + timedelta(minutes=2))
    assert due.attempts == 1 and due.last_error == "451 thử lại sau" and due.status == "pending"


def test_mark_sent_and_failed_leave_the_queue_but_stay_visible(store: Store) -> None:
    store.enqueue(_msg("ok", created_at=T0))
    store.enqueue(_msg("bad", recipient="b@example.vn", created_at=T0 + timedelta(seconds=1)))
    store.mark_retry("ok", "timeout", T0)
    store.mark_sent("ok", T0 + timedelta(minutes=1))
    store.mark_failed("bad", "550 no such user")
    assert store.due_messages(T0 + timedelta(days=1)) == []
    [sent] = store.outbox("sent")
    assert sent.key == "ok" and sent.attempts == 2 and sent.sent_at == T0 + timedelta(minutes=1)
    assert sent.last_error is None
    [failed] = store.outbox("failed")
    assert failed.key == "bad" and failed.attempts == 1 and failed.last_error == "550 no such user"
    assert [m.key for m in store.outbox()] == ["ok", "bad"]
    assert store.outbox("pending") == []


@pytest.mark.parametrize("call", ["mark_sent", "mark_retry", "mark_failed"])
def test_marking_an_unknown_key_raises_key_error(store: Store, call: str) -> None:
    args = {"mark_sent": (T0,), "mark_retry": ("x", T0), "mark_failed": ("x",)}[call]
    with pytest.raises(KeyError):
        getattr(store, call)("missing", *args)


def test_outbox_narrowed_by_keys_and_sent_since(store: Store) -> None:
    """Scheduled jobs ask for a few keys or the recently sent, not the whole outbox."""
    for i in range(5):
        store.enqueue(_msg(f"k{i}", created_at=T0 + timedelta(minutes=i)))
    store.mark_sent("k1", T0 + timedelta(hours=1))
    store.mark_sent("k3", T0 + timedelta(hours=3))
    assert [m.key for m in store.outbox(keys=["k3", "k0", "nope"])] == ["k0", "k3"]
    assert store.outbox(keys=[]) == []
    assert [m.key for m in store.outbox("sent", sent_since=T0 + timedelta(hours=2))] == ["k3"]
    assert [m.key for m in store.outbox(sent_since=T0 + timedelta(hours=1))] == ["k1", "k3"]
    assert [m.key for m in store.outbox("pending", keys=["k1", "k2"])] == ["k2"]
    many = [f"x{i}" for i in range(2500)] + ["k4", "k2"]        # more keys than one query takes
    assert [m.key for m in store.outbox(keys=many)] == ["k2", "k4"]


def test_outbox_without_bodies_reads_every_other_field(store: Store) -> None:
    """Listings that never send (digest, reports, escalation) leave the bodies, most of the bytes."""
    files = ["/srv/haidang/reports/báo cáo.xlsx"]
    store.enqueue(_msg("k0", created_at=T0, attachments=files))
    store.enqueue(_msg("k1", recipient="b@example.vn", created_at=T0 + timedelta(minutes=1)))
    store.mark_retry("k0", "mất kết nối", T0 + timedelta(minutes=5), handed_over=True)
    store.mark_sent("k1", T0 + timedelta(hours=1))
    whole = store.outbox()
    light = store.outbox(bodies=False)
    assert [(m.text, m.html) for m in light] == [("", "")] * 2
    for full, bare in zip(whole, light, strict=True):
        full.text = full.html = ""
        assert bare == full
    assert light[0].attachments == files and light[0].handed_over == 1 and light[0].subject == "Tiêu đề"
    # The filters work alike, the chunked key lookup too.
    assert [m.key for m in store.outbox("sent", sent_since=T0, bodies=False)] == ["k1"]
    many = [f"x{i}" for i in range(2500)] + ["k1"]
    assert [(m.key, m.html) for m in store.outbox(keys=many, bodies=False)] == [("k1", "")]
    assert store.outbox(keys=["k0"])[0].html == "<p>nội dung</p>"      # bodies stay the default


def test_handed_over_is_counted_kept_and_never_reset(store: Store) -> None:
    """Attempts the server took whole without answering (alerts.outbox sends such a message once
    more at most): counted by the marks that say so, kept by a plain retry, by sending and by
    putting a failed message back."""
    store.enqueue(_msg("k1", created_at=T0, handed_over=5))        # a queued message starts at 0
    assert store.outbox()[0].handed_over == 0
    store.mark_retry("k1", "mất kết nối", T0, handed_over=True)
    store.mark_retry("k1", "không kết nối được", T0)
    [row] = store.outbox()
    assert row.handed_over == 1 and row.attempts == 2 and row.last_error == "không kết nối được"
    store.mark_failed("k1", "hai lần không trả lời", T0, handed_over=True)
    assert store.outbox("failed")[0].handed_over == 2
    assert store.requeue_failed("k1", T0 + timedelta(hours=1))
    [due] = store.due_messages(T0 + timedelta(hours=1))
    assert due.handed_over == 2
    store.mark_failed("k1", "550 no such user", T0 + timedelta(hours=1))
    assert store.outbox()[0].handed_over == 2
    store.requeue_failed("k1", T0 + timedelta(hours=2))
    store.mark_sent("k1", T0 + timedelta(hours=2))
    [sent] = store.outbox()
    assert sent.status == "sent" and sent.handed_over == 2 and sent.last_error is None


def test_the_article_a_message_describes_is_kept(store: Store) -> None:
    """A rule flag's email names the copy that matched (maybe a later outlet's, not the story's
    founder): the flag pages and reminders show that copy. Messages about no one article have none."""
    store.enqueue(_msg("k1", created_at=T0, article_id="copy-2"))
    store.enqueue(_msg("k2", recipient="b@example.vn", created_at=T0))
    assert [(m.key, m.article_id) for m in store.outbox()] == [("k1", "copy-2"), ("k2", None)]
    assert [m.article_id for m in store.outbox(bodies=False)] == ["copy-2", None]
    assert [m.article_id for m in store.due_messages(T0)] == ["copy-2", None]
    store.mark_retry("k1", "mất kết nối", T0)
    store.mark_sent("k1", T0 + timedelta(minutes=5))
    assert store.outbox("sent")[0].article_id == "copy-2"
