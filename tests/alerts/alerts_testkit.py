"""Shared by the alert tests: a recording SMTP server, a Thursday-morning time, a flagged article.

A plain module (not conftest) so tests can import it by name: tests/alerts is not a package, so
that it cannot shadow the real `alerts` package (tests/test_packages.py).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from alerts.flag import Flag
from haidang.record import Article, Content, Fetched, Match, Span, article_id

__all__ = ["T0", "VN", "RecordingHandler", "SmtpServer", "build_article", "build_flag", "free_port"]

VN = timezone(timedelta(hours=7))
T0 = datetime(2026, 3, 12, 10, 0, tzinfo=VN)        # a Thursday


@dataclass
class RecordingHandler:
    """Keeps every accepted envelope; `replies` maps a recipient to the answer RCPT gets instead."""

    envelopes: list[Envelope] = field(default_factory=list)
    replies: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.replies:
            return self.replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that can be stopped and started again on the same port."""

    handler: RecordingHandler
    port: int
    _controller: Controller | None = None

    def start(self) -> None:
        # Most mail servers do not offer SMTPUTF8 (aiosmtpd's Controller does by default): neither
        # does this one, so nothing passes here that a real office server would refuse.
        controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=False)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def reject(self, recipient: str, reply: str) -> None:
        self.handler.replies[recipient] = reply

    def accept(self, recipient: str) -> None:
        self.handler.replies.pop(recipient, None)


def build_article(slug: str, *, source: str = "baoquangngai", title: str = "Tin đồn vỡ đập ở Quảng Ngãi",
                  text: str = "", published: datetime | None = T0, labels: dict[str, Any] | None = None,
                  mention: str = "Quảng Ngãi") -> Article:
    """A stored-shape article whose first province match points at `mention` in its text."""
    text = text or f"Sáng nay, nhiều tài khoản lan truyền tin đập thủy điện ở {mention} bị vỡ. Chính quyền bác bỏ."
    url = f"https://{source}.example.vn/{slug}.html"
    start = text.find(mention)
    spans = [Span(field="text", start=start, end=start + len(mention))] if start >= 0 else []
    return Article(
        id=article_id(url),
        fetched=Fetched(source_id=source, url=url, final_url=url, canonical_url=url),
        content=Content(title=title, text=text, language="vi", published=published, first_seen=published),
        matches=[Match(province_code="51", province="Quảng Ngãi", named=True, aliases=[mention],
                       spans=spans, score=0.9, where=["body"], count=1)],
        relevant=True, province_code="51", story_id="story-1",
        labels=labels if labels is not None else {
            "topics": [{"id": "an_ninh_trat_tu", "score": 0.8, "evidence": ["vỡ đập"]}],
            "tone": {"label": "tiêu cực", "score": 0.7},
            "risk": {"score": 0.82, "level": "cao", "reasons": [
                {"signal": "unverified_claim", "evidence": ["lan truyền tin", "bị vỡ"], "weight": 0.4},
                {"signal": "source_trust", "evidence": ["nguồn chưa xác minh"], "weight": 0.2},
            ]},
        },
    )


def build_flag(articles: list[Article], recipients: list[str], *, rule: str = "tin_sai_cao") -> Flag:
    return Flag(rule=rule, severity="cao", story_id="story-1", article_ids=[a.id for a in articles],
                agencies=["so_tttt", "cong_an_tinh"], recipients=recipients, immediate=True,
                reasons=[{"condition": "risk >= cao", "evidence": "0.82 ≥ 0.70"},
                         {"condition": "topics", "evidence": ["an_ninh_trat_tu"]}],
                topics=["an_ninh_trat_tu"], created_at=T0)
