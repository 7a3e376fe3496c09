"""Synthetic stored articles and emails shared by the benches that need a province office's store
(bench.digest, bench.reports): stories recombined from real sentences, with labels, copies on
other outlets, late finds and undated pages as crawling leaves them, and outbox messages."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.flag import flag_key, follow_up_key
from crawlers.dedup import band_keys, signature
from haidang.record import Article, Content, Fetched, Match, article_id
from haidang.settings import Settings
from haidang.store.base import OutboxMessage, Store

__all__ = ["Story", "message", "store_story", "stories"]

# Stand-in for what a news page holds besides the article (menus, scripts, related links).
_CHROME = ('<li><a href="/chuyen-muc/thoi-su">Thời sự</a></li><li><a href="/chuyen-muc/kinh-te">Kinh tế</a></li>'
           '<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}</script>\n')


@dataclass
class Story:
    founder: Article
    copies: list[Article] = field(default_factory=list)


def _labels(rng: random.Random, topics: list[str]) -> dict[str, Any]:
    if rng.random() < 0.05:                      # not labelled yet
        return {}
    level = rng.choices(["thấp", "cần xem xét", "cao"], [86, 11, 3])[0]
    score = {"thấp": 0.15, "cần xem xét": 0.45, "cao": 0.8}[level]
    chosen = rng.sample(topics, rng.choice([0, 1, 1, 1, 2, 3]))
    return {"section": {"label": "xa_hoi", "score": 0.8},
            "topics": [{"id": t, "score": 0.7, "evidence": ["cụm từ"]} for t in chosen],
            "tone": {"label": rng.choices(["positive", "neutral", "negative"], [25, 60, 15])[0], "score": 0.6,
                     "evidence": ["câu nói về tỉnh"], "scope": "province"},
            "risk": {"score": score, "level": level,
                     "reasons": [{"signal": "source_kind", "evidence": "báo chí", "weight": -0.6}]}}


def _page(title: str, text: str, page_bytes: int) -> str | None:
    """A decoded news page about `page_bytes` long (0: none kept): the article's paragraphs inside
    the site's chrome."""
    if not page_bytes:
        return None
    body = "".join(f"<p>{line}</p>" for line in text.split("\n"))
    head = f'<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>{title}</title></head><body><ul>'
    chrome = max(0, page_bytes - len(head) - len(body.encode()))
    return head + _CHROME * (chrome // len(_CHROME)) + f"</ul><article><h1>{title}</h1>{body}</article></body></html>"


def _article(rng: random.Random, n: int, source: str, title: str, text: str, moment: datetime,
             labels: dict[str, Any], relevant: bool, story_id: str | None, page_bytes: int,
             language: str) -> Article:
    url = f"https://{source}.example.vn/bai-{n}.html"
    roll = rng.random()
    published: datetime | None = moment
    first_seen = moment + timedelta(minutes=rng.randint(5, 90))
    if roll < 0.03:                              # a feed that lists it days late, an outage caught up
        first_seen = moment + timedelta(days=rng.uniform(1, 10))
    elif roll < 0.07:                            # no date on the page
        published = None
    return Article(
        id=article_id(url), story_id=story_id,
        fetched=Fetched(source_id=source, url=url, canonical_url=url, final_url=url, fetched_at=first_seen,
                        html=_page(title, text, page_bytes)),
        content=Content(title=title, text=text, language=language, published=published, first_seen=first_seen),
        matches=[Match(province_code="51", province="Quảng Ngãi", named=True, aliases=["Quảng Ngãi"], score=0.9,
                       where=["body"], count=1)] if relevant else [],
        province_code="51", relevant=relevant, labels=labels)


def stories(settings: Settings, sentences: list[str], count: int, seed: int, *, start: datetime, days: int,
            page_bytes: int = 0) -> Iterator[Story]:
    """Stories over `days` from `start` until `count` articles: most on one outlet, a quarter of the
    articles copies on others; each page `page_bytes` long (0: no page kept)."""
    rng = random.Random(seed)
    sources = [s.id for s in settings.sources]
    weights = [1 if s.kind == "foreign_press" else 4 if s.kind == "platform" else 6 for s in settings.sources]
    languages = {s.id: s.language for s in settings.sources}
    topics = sorted(settings.topics)
    made = 0
    while made < count:
        moment = start + timedelta(seconds=rng.randrange(days * 86400))
        source = rng.choices(sources, weights)[0]
        body = rng.sample(sentences, rng.randint(6, 14))
        title = rng.choice(sentences)[:120]
        labels, relevant = _labels(rng, topics), rng.random() < 0.5
        founder = _article(rng, made, source, title, "\n".join(body), moment, labels, relevant, None, page_bytes,
                           languages[source])
        founder.story_id = founder.id
        story = Story(founder)
        made += 1
        if rng.random() < 0.12:
            for outlet in rng.sample(sources, rng.randint(1, 6)):
                if outlet == source or made >= count:
                    continue
                lead = rng.choice(sentences)              # a copy adds a line of its own
                story.copies.append(_article(rng, made, outlet, title, lead + "\n" + "\n".join(body),
                                             moment + timedelta(minutes=rng.randint(10, 2 * 1440)), labels,
                                             relevant, founder.id, page_bytes, languages[outlet]))
                made += 1
        yield story


def message(key: str, rule: str, story: str, recipient: str, at: datetime, status: str = "sent",
            subject: str = "Cảnh báo", size: int = 1) -> OutboxMessage:
    """An email of about `size` times a flag email's 4 KB text and 10 KB HTML (a digest: 3)."""
    return OutboxMessage(key=key, flag_rule=rule, story_id=story, recipient=recipient,
                         message_id=f"<{key}@haidang.local>", subject=subject, text="Nội dung cảnh báo " * 200 * size,
                         html="<p>Nội dung cảnh báo</p>" * 400 * size, status=status,  # type: ignore[arg-type]
                         attempts=1, created_at=at, next_attempt_at=at, sent_at=at if status == "sent" else None,
                         failed_at=at + timedelta(hours=6) if status == "failed" else None,
                         last_error="550 mailbox unavailable" if status == "failed" else None)


def enqueue_flag_emails(store: Store, rng: random.Random, rule: str, story_id: str, recipients: list[str],
                        at: datetime) -> int:
    """A flag's emails, mostly sent, some pending or failed, and a reminder or escalation for about
    one recipient in eight; returns how many were queued."""
    queued = 0
    for recipient in recipients:
        status = rng.choices(["sent", "pending", "failed"], [93, 3, 4])[0]
        queued += store.enqueue(message(flag_key(rule, story_id, recipient), rule, story_id, recipient,
                                        at + timedelta(seconds=len(recipient)), status))
        if rng.random() < 0.12:
            stage = rng.choice(["reminder", "reminder", "escalation"])
            queued += store.enqueue(message(follow_up_key(stage, rule, story_id, recipient), rule,
                                            story_id, recipient, at + timedelta(hours=24)))
    return queued


def store_story(store: Store, story: Story) -> Article:
    """Store a story's articles with the near-duplicate keys crawlers.dedup would have left for its
    copies; return the member the store saw first (the one its rules ran on)."""
    members = [story.founder, *story.copies]
    if story.copies:
        sig = signature(story.founder.content.text)
        keys = band_keys(sig)
        for a in members:
            store.add_story_keys(a.id, story.founder.id, keys, sig)
    for a in members:
        store.upsert(a)
    return min(members, key=lambda a: a.content.first_seen or datetime.max.replace(tzinfo=UTC))
