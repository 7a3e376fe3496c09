"""A flag's Subject keeps within what a mail list can show, however long the configured outlet and
topic names or the article's title: those parts are shortened with "…", while the words that say
what the flag is (severity, kind of flag, other outlets) stay whole; and it still travels as one
wholly encoded header."""

from __future__ import annotations

import email
import re
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from alerts_testkit import T0, SmtpServer, build_article, build_flag

from alerts.flag import EarlierAction, Resurfacing
from alerts.outbox import deliver_due, queue_flag
from alerts.render import environment, render_flag
from alerts.smtp import SmtpNotifier
from haidang.settings import Source
from haidang.store.sqlite import SqliteStore

SUBJECT_CHARS = 130          # alerts.render.SUBJECT_CHARS, pinned here so a change is a decision
HEADLINE = "Tin đồn vỡ đập thủy điện Nước Trong, hàng nghìn hộ dân huyện Sơn Tây phải sơ tán trong đêm"   # 88
# A configured outlet name of 49 characters with a real topic name made a 171-character Subject.
OUTLET_49 = "Trang thông tin điện tử tổng hợp Tin Nhanh 24 giờ"
TOPIC = "Thiên tai, dịch bệnh, sự cố môi trường"


def _subject(title: str, outlet: str, topic: str, *, copies: int = 3, resurfacing: bool = False) -> str:
    articles = [build_article(f"a{n}", title=title, source="src" if n == 0 else f"other{n}") for n in range(copies)]
    sources: Any = {"src": SimpleNamespace(name=outlet, kind="platform")}
    extra: dict[str, Any] = {}
    if resurfacing:
        extra["resurfacing"] = Resurfacing(action_ref="a1", source_name=outlet, source_id="src", actions=(
            EarlierAction(action="phan_bac", agency="Công an tỉnh", at=T0, rebuttal_url=None),))
    return render_flag(build_flag(articles, ["x@example.vn"]), articles, sources=sources,
                       topic_names={"an_ninh_trat_tu": topic}, **extra)[0]


def test_a_long_outlet_name_no_longer_makes_a_long_subject() -> None:
    subject = _subject(HEADLINE, OUTLET_49, TOPIC)
    assert len(subject) <= SUBJECT_CHARS, (len(subject), subject)
    assert subject.startswith("[Hải Đăng][cao] Nguy cơ tin sai — «Tin đồn vỡ đập thủy điện")
    assert subject.endswith(" (+2 nguồn khác)")
    assert subject == ("[Hải Đăng][cao] Nguy cơ tin sai — «Tin đồn vỡ đập thủy điện Nước Trong…» — Thiên tai, dịch… — "
                       "Trang thông tin… (+2 nguồn khác)")


@pytest.mark.parametrize("resurfacing", [False, True])
@pytest.mark.parametrize(("title", "outlet", "topic"), [
    (HEADLINE * 4, "Báo " + "Rất Dài " * 40, "Chủ đề " * 30),
    ("Tin ngắn", "Báo " + "Rất Dài " * 40, "Chủ đề " * 30),
    (HEADLINE * 4, "Báo Quảng Ngãi", "Chủ đề " * 30),
    ("Đ" * 500, "X" * 500, "Y" * 500),                     # one "word" each: cut inside it
])
def test_long_parts_are_cut_and_the_fixed_parts_kept(title: str, outlet: str, topic: str, resurfacing: bool) -> None:
    subject = _subject(title, outlet, topic, resurfacing=resurfacing)
    assert len(subject) <= SUBJECT_CHARS, (len(subject), subject)
    head = "[Hải Đăng][cao] Tái xuất hiện sau khi đã xử lý — «" if resurfacing else "[Hải Đăng][cao] Nguy cơ tin sai — «"
    assert subject.startswith(head)
    assert resurfacing or subject.endswith(" (+2 nguồn khác)")
    title_part = re.search("«(.*)»", subject)
    assert title_part is not None
    shown_title = title_part.group(1)
    # Each part is a beginning of what it shortens, ended with "…" when cut, never emptied.
    for part, full in ((shown_title, title), (subject.split(" — ")[-1].removesuffix(" (+2 nguồn khác)"), outlet)):
        assert full.startswith(part.removesuffix("…")) and len(part.removesuffix("…")) >= 5, (part, full)
    assert len(shown_title) >= min(len(title), 20)         # the title, which tells flags apart, keeps the most room


def test_short_names_leave_the_title_the_room_and_are_kept_whole() -> None:
    subject = _subject(HEADLINE * 4, "Báo Quảng Ngãi", "An ninh, trật tự")
    assert subject.endswith("» — An ninh, trật tự — Báo Quảng Ngãi (+2 nguồn khác)")
    assert len(subject) <= SUBJECT_CHARS and "«Tin đồn vỡ đập thủy điện Nước Trong, hàng…»" in subject


def test_a_resurfacing_subject_gives_the_new_outlet_as_much_room_as_the_title() -> None:
    """The new outlet is what a resurfacing email is about: a 28-character name stays whole."""
    subject = _subject(HEADLINE, "Nhóm Người Quảng Ngãi xa quê", TOPIC, resurfacing=True)
    assert len(subject) <= SUBJECT_CHARS and subject.endswith("…» — Nhóm Người Quảng Ngãi xa quê")
    assert subject.startswith("[Hải Đăng][cao] Tái xuất hiện sau khi đã xử lý — «Tin đồn vỡ đập thủy điện Nước Trong")


def test_a_subject_within_the_cap_is_unchanged() -> None:
    subject = _subject("Tin đồn vỡ đập thủy điện ở Quảng Ngãi, người dân sơ tán", "Báo Quảng Ngãi",
                       "An ninh, trật tự", copies=1)
    assert subject == ("[Hải Đăng][cao] Nguy cơ tin sai — «Tin đồn vỡ đập thủy điện ở Quảng Ngãi, người dân sơ tán» — "
                       "An ninh, trật tự — Báo Quảng Ngãi")


def test_a_silent_source_with_a_long_name_keeps_its_subject_short() -> None:
    flag = SimpleNamespace(rule="nguon-im-lang", description="Nguồn tin không có bài mới", severity="trung bình")
    source = Source(id="x", name="Cổng " + "thông tin rất dài " * 20, country="VN", language="vi", kind="platform")
    subject = " ".join(environment().get_template("silence_subject.txt.j2").render(
        {"flag": flag, "source": source, "source_id": "x"}).split())
    assert len(subject) <= SUBJECT_CHARS and subject.endswith("…")
    assert subject.startswith("[Hải Đăng][trung bình] Nguồn tin ngừng cập nhật: Cổng thông tin rất dài")


def test_a_capped_subject_arrives_whole_and_wholly_encoded(tmp_path: Path, smtp_server: SmtpServer) -> None:
    articles = [build_article(f"a{n}", title=HEADLINE * 3, source="src" if n == 0 else f"other{n}") for n in range(3)]
    sources: Any = {"src": SimpleNamespace(name=OUTLET_49 * 3, kind="platform")}
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        queue_flag(store, build_flag(articles, ["so-ttt@example.vn"]), articles, now=T0, sources=sources,
                   topic_names={"an_ninh_trat_tu": TOPIC * 3})
        [queued] = store.outbox()
        notifier = SmtpNotifier("127.0.0.1", smtp_server.port, "none", sender="haidang@example.vn", timeout_s=5)
        assert deliver_due(store, notifier, T0).sent == [queued.key]
    assert len(queued.subject) <= SUBJECT_CHARS
    [envelope] = smtp_server.handler.envelopes
    raw = envelope.content
    assert isinstance(raw, bytes)
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage) and str(message["Subject"]) == queued.subject
    headers = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    folded = re.search(r"^Subject: (.*?)\r\n(?![ \t])", headers, re.DOTALL | re.MULTILINE)
    assert folded is not None
    lines = folded.group(0).rstrip("\r\n").split("\r\n")
    assert all(len(line) <= 78 for line in lines)
    # Every word of the header is an RFC 2047 encoded word: nothing the client would show undecoded.
    words = folded.group(1).split()
    assert words and all(re.fullmatch(r"=\?utf-8\?b\?[A-Za-z0-9+/=]+\?=", w) for w in words), words
