"""Runs the alert chain for each newly stored article and delivers what is due.

rule match → route → outbox (deferred past quiet hours, never dropped) → send with backoff →
record as sent. Without an SMTP server configured, delivery writes each message as an .eml
file in the data folder, so the whole flow can be seen offline (`haidang demo`). A story officers
already acted on that reappears on a new outlet is flagged again, once per action (resurfacing).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.flag import EarlierAction, Flag, Resurfacing, flag_key, resurfacing_ref, resurfacing_ref_of
from alerts.links import LinkSigner
from alerts.outbox import DeliveryPolicy, Notifier, deliver_due, queue_flag
from alerts.routing import group_by_story, route
from alerts.rules import evaluate_rules, held_until
from alerts.smtp import SmtpNotifier, build_email
from haidang.errors import StoreError
from haidang.evidence.capture import capture_flag_evidence
from haidang.record import Article
from haidang.settings import AlertRule, Settings, Source
from haidang.store.base import OutboxMessage, ResponseAction, SearchFilters, Store
from haidang.store.query import matches_text, parse_query

__all__ = ["NAMING_ORDER", "AlertDispatcher", "EmlNotifier", "Reappearance", "first_article", "make_notifier",
           "make_signer", "query_matches", "reappearances", "story_articles"]

log = logging.getLogger(__name__)

CATCH_UP_HOURS = 48   # articles dated within this many hours get their rules re-run at start-up
# Stored copies of one story read to find which outlets carried it: far above the outlets a story
# reaches in a province (the probe week's widest had 5), and a bound on one article's look-up.
STORY_COPIES_READ = 200


def query_matches(article: Article, query: str) -> bool:
    """A rule's query in the store's language, on the article's title and text."""
    return matches_text(parse_query(query), f"{article.content.title}\n{article.content.text}")


def story_articles(store: Store, story_id: str, *, like: Sequence[Article] = (),
                   limit: int = STORY_COPIES_READ) -> list[Article]:
    """The stored articles of a story: its founding article (the story id is its id, crawlers.dedup),
    `like`, and the stored copies sharing near-duplicate keys with either (the Store keeps no list
    of a story's members: its copies are found, as crawlers.dedup found them, by their LSH keys).
    At most `limit` copies are read; a story that large is named by outlets enough already."""
    from crawlers.dedup import band_keys, signature  # the store's candidates are keyed by these

    found: dict[str, Article] = {a.id: a for a in like}
    founder = store.get(story_id)
    if founder is not None:
        found.setdefault(founder.id, founder)
    ids: set[str] = set()
    for a in [founder, *like]:
        text = (a.content.text or a.content.title) if a is not None else ""
        if text:
            ids |= {c.article_id for c in store.story_candidates(band_keys(signature(text)))
                    if c.story_id == story_id and c.article_id not in found}
    for article_id in sorted(ids)[:limit]:
        if (copy := store.get(article_id)) is not None:
            found[copy.id] = copy
    return list(found.values())


# Which outlet names a story when two of its articles appeared at the same time: the province's own
# press and portal, whose headlines its officers know, then the national and foreign press, platforms last.
NAMING_ORDER = ("provincial_press", "government_portal", "national_press", "foreign_press", "platform")


def first_article(articles: Iterable[Article], kinds: Mapping[str, str] | None = None) -> Article | None:
    """The article a story is named by wherever it is listed (the digest, the deadline report): the
    one published first (else first seen); at the same time the one from the outlet of the kind
    first in NAMING_ORDER (`kinds`: source id -> kind), then by id. None for no article.

    Why the earliest rather than the most authoritative outlet's: it is the headline the story first
    appeared under, which a flag email or an earlier digest already showed the officer, and it does
    not change as copies arrive, so tomorrow's digest and the quarter's report name the story as
    today's did. A press outlet that published first wins over a forum's later repost; a rumour that
    began on a platform keeps the platform's words, which is what officers must recognise, not the
    newspaper copy that picked it up. Founding (first stored) is not used: a feed that lists the
    original late makes its repost the founder."""
    rank = {kind: n for n, kind in enumerate(NAMING_ORDER)}

    def key(a: Article) -> tuple[int, str]:
        return rank.get((kinds or {}).get(a.fetched.source_id, ""), len(rank)), a.id

    listed = list(articles)
    dated = [(when, key(a), a) for a in listed
             if (when := a.content.published or a.content.first_seen) is not None]
    if dated:
        return min(dated, key=lambda t: t[:2])[2]
    return listed[0] if listed else None


@dataclass(slots=True)
class Reappearance:
    """One resurfacing as its emails record it: a story officers had acted on, carried by an outlet
    that had not carried it then, and the emails that said so (one per rule and recipient)."""

    story_id: str
    source_id: str | None                 # the new outlet; None when its emails no longer tell
    article: Article | None               # that outlet's first article of the story after the action
    at: datetime                          # when it reappeared: that article first seen, else its first email
    actions: list[ResponseAction]         # the story's actions it came back after, oldest first; [] when unknown
    messages: list[OutboxMessage] = field(default_factory=list)

    @property
    def rules(self) -> list[str]:
        return list(dict.fromkeys(m.flag_rule for m in self.messages))

    @property
    def statuses(self) -> dict[str, int]:
        """Outbox status -> its emails."""
        return dict(Counter(m.status for m in self.messages))


def reappearances(store: Store, messages: Iterable[OutboxMessage]) -> list[Reappearance]:
    """The resurfacings the resurfacing emails among `messages` record (others are ignored), one per
    story, action and new outlet, earliest first. The store keeps no other record of them: each
    email's key names its action and outlet (`alerts.flag.resurfacing_ref`), matched here against
    the story's recorded actions and the outlets of its stored copies, so what the report and the
    flag pages show is what the emails said, not a second guess at it."""
    by_story: dict[str, dict[str, list[OutboxMessage]]] = {}
    for m in messages:
        if (ref := resurfacing_ref_of(m)) is not None:
            by_story.setdefault(m.story_id, {}).setdefault(ref, []).append(m)
    found: list[Reappearance] = []
    for story_id, groups in by_story.items():
        actions = sorted(store.actions(story_id=story_id), key=lambda a: (a.at, a.id or ""))
        copies = sorted((a for a in story_articles(store, story_id) if a.content.first_seen is not None),
                        key=lambda a: (a.content.first_seen, a.id))
        known: dict[str, tuple[int, str | None]] = {}       # ref -> (the action's position, the outlet)
        for n, action in enumerate(actions):
            known.setdefault(resurfacing_ref(_action_ref(action)), (n, None))    # keys before they named it
            for outlet in dict.fromkeys(a.fetched.source_id for a in copies):
                known[resurfacing_ref(_action_ref(action), outlet)] = (n, outlet)
        for ref, group in groups.items():
            n, source_id = known.get(ref, (-1, None))
            after = actions[n].at if n >= 0 else None
            article = next((a for a in copies if source_id is not None and a.fetched.source_id == source_id
                            and (after is None or a.content.first_seen > after)), None)     # type: ignore[operator]
            queued = min((m.created_at for m in group if m.created_at is not None), default=None)
            at = article.content.first_seen if article is not None else queued
            if at is not None:
                found.append(Reappearance(story_id=story_id, source_id=source_id, article=article, at=at,
                                          actions=actions[:n + 1], messages=group))
    found.sort(key=lambda r: (r.at, r.story_id, r.source_id or ""))
    return found


class EmlNotifier:
    """Writes each message as `<key>.eml` in a folder: delivery for a deployment without SMTP."""

    def __init__(self, folder: Path, sender: str = "haidang@localhost"):
        self._folder, self._sender = folder, sender
        folder.mkdir(parents=True, exist_ok=True)

    def send(self, msg: OutboxMessage) -> None:
        path = self._folder / f"{msg.key}.eml"
        tmp = path.with_suffix(".partial")
        tmp.write_bytes(bytes(build_email(msg, self._sender)))
        os.replace(tmp, path)           # a crash never leaves half a message behind


def make_notifier(settings: Settings) -> Notifier:
    """SMTP when configured (credentials from the environment), else .eml files in the data folder."""
    smtp = settings.app.smtp
    if smtp is None:
        return EmlNotifier(settings.data_dir / "outbox-eml")
    return SmtpNotifier(smtp.host, smtp.port, smtp.security,
                        os.environ.get(smtp.username_env) if smtp.username_env else None,
                        os.environ.get(smtp.password_env) if smtp.password_env else None,
                        sender=smtp.sender, timeout_s=smtp.timeout_s,
                        reply_timeout_s=smtp.reply_timeout_s)


def make_signer(settings: Settings, environ: dict[str, str] | None = None) -> LinkSigner | None:
    """The link signer when the secret variable (web.secret_env) is set, else None (no links).

    Wiring code (cli, service) calls this; components only ever receive the signer.
    """
    env = os.environ if environ is None else environ
    secret = env.get(settings.app.web.secret_env)
    if not secret:
        log.warning("%s is not set: flag emails carry no action links", settings.app.web.secret_env)
        return None
    return LinkSigner(secret, settings.app.web.base_url, link_days=settings.app.web.link_days)


class AlertDispatcher:
    """Evaluates the article rules on each stored article and queues the immediate flags."""

    def __init__(self, settings: Settings, store: Store, signer: LinkSigner | None = None):
        """`signer` (built from the secret in the environment, see `make_signer`) puts signed action
        links in each flag email; None sends emails that say they carry no links."""
        self._signer = signer
        self._rules = [r for r in settings.alert_rules if r.enabled]
        self._agencies = settings.agencies
        self._sources = {s.id: s for s in settings.sources}
        self._tz = settings.app.timezone
        self._store = store
        self._settings = settings
        self._topic_names = {tid: str(t.get("name") or tid) for tid, t in settings.topics.items()}

    def flags_for(self, article: Article, rules: list[AlertRule] | None = None,
                  now: datetime | None = None) -> list[Flag]:
        """Every flag the rules raise for one article (immediate or digest-only), routed."""
        now = now or datetime.now(UTC)
        source: Source | None = self._sources.get(article.fetched.source_id)
        matches = evaluate_rules(article, self._rules if rules is None else rules, source=source,
                                 query_matches=query_matches, now=now)
        flags = [route(m, self._agencies, article) for m in matches]
        for flag in flags:
            flag.created_at = now
        return group_by_story(flags)

    def _record_url(self, article: Article) -> str | None:
        """The record in Kibana Discover when the store is Elasticsearch and `store.kibana_url` is set."""
        store = self._settings.app.store
        if store.backend != "elasticsearch" or not store.kibana_url:
            return None
        from haidang.kibana import discover_url
        return discover_url(store.kibana_url, article.id)

    def _kit(self, article: Article) -> Any:
        """The rebuttal kit for the email (own coverage, earlier rebuttals); a failure never stops a flag."""
        from haidang.reports.kit import rebuttal_kit
        try:
            return rebuttal_kit(self._store, self._settings, article, limit=3)
        except Exception:
            log.exception("rebuttal kit for %s failed", article.id)
            return None

    def on_stored(self, article: Article, now: datetime | None = None, *, body: bytes | None = None) -> int:
        """Queue the immediate flags of a newly stored article; returns messages queued.

        A flagged article's page is kept as evidence (haidang.evidence): `body` is the response
        body as fetched, which the pipeline passes; without it the stored decoded page is kept.
        """
        now = now or datetime.now(UTC)
        queued = 0
        flagged = False
        kit = None
        by_name = {r.name: r for r in self._rules}
        for flag in self.flags_for(article, now=now):
            if not flag.immediate or not flag.recipients:
                continue
            flagged = True
            # Quiet hours per recipient: the rule's and its agency's (a resurfacing email's too).
            held = held_until(by_name.get(flag.rule), self._agencies, flag.recipients, now, self._tz)
            if kit is None:
                kit = self._kit(article)
            options: dict[str, Any] = {"now": now, "held_until": held, "tz": self._tz, "sources": self._sources,
                                       "signer": self._signer, "kit": kit, "topic_names": self._topic_names,
                                       "record_url": self._record_url(article)}
            queued += queue_flag(self._store, flag, [article], **options)
            again = self._resurfacing(article, flag, now)
            if again is not None:
                resurfacing, told = again
                queued += queue_flag(self._store, replace(flag, recipients=told), [article],
                                     resurfacing=resurfacing, **options)
        if flagged:
            try:
                capture_flag_evidence(self._store, article, body, now=now)
            except Exception as exc:  # noqa: BLE001 - the flag is queued; the start-up catch-up keeps it later
                log.warning("could not keep evidence of flagged article %s: %s", article.id, exc)
        return queued

    def _resurfacing(self, article: Article, flag: Flag, now: datetime) -> tuple[Resurfacing, list[str]] | None:
        """Whether `article` brings a story officers already acted on back, and to whom to say so.

        Officers recorded an action on the story (`Store.actions`); the article was first seen after
        the last one, from an outlet (source) that had no article in the story at that moment (a
        story's own outlet updating its page is no news). The email goes to the flag's recipients
        whose first email of this rule and story was queued before that action: a recipient first
        told after it was told of the action's outcome already, and one never told gets the flag
        itself. None for a story with no recorded action: it behaves as before resurfacing existed.
        Keyed by the last action and the new outlet (`alerts.flag.resurfacing_key`), so it is said
        once per action and outlet (why per outlet: `alerts.flag.Resurfacing`).
        """
        actions = self._store.actions(story_id=flag.story_id)
        if not actions:
            return None
        last = max(actions, key=lambda a: (a.at, a.id or ""))
        stored = self._store.get(article.id) or article
        arrived = stored.content.first_seen or now
        if arrived <= last.at:
            return None
        source_id = article.fetched.source_id
        copies = story_articles(self._store, flag.story_id, like=[stored])
        carried = {a.fetched.source_id for a in copies
                   if a.id != article.id and (a.content.first_seen or a.content.published or now) <= last.at}
        carried |= {a.fetched.source_id for a in (self._store.get(x.article_id) for x in actions if x.at <= last.at)
                    if a is not None and a.id != article.id}
        if source_id in carried:
            return None
        # Other outlets that took it up since that action, found before this one (named in the email too).
        by_arrival = sorted(copies, key=lambda a: (a.content.first_seen or now, a.id))
        earlier = dict.fromkeys(a.fetched.source_id for a in by_arrival
                                if a.fetched.source_id not in carried | {source_id}
                                and last.at < (a.content.first_seen or now) <= arrived)
        keys = {flag_key(flag.rule, flag.story_id, r): r for r in dict.fromkeys(flag.recipients)}
        told = [keys[m.key] for m in self._store.outbox(keys=list(keys), bodies=False)
                if m.created_at is not None and m.created_at <= last.at]
        if not told:
            return None
        agencies = {a.id: a.name for a in self._agencies}
        log.info("story %s was acted on (%s, %s) and reappears on %s: resurfacing flag %s",
                 flag.story_id, last.action, last.at.isoformat(), source_id, flag.rule)
        return Resurfacing(action_ref=_action_ref(last), source_name=self._source_name(source_id),
                           source_id=source_id, earlier_outlets=tuple(self._source_name(s) for s in earlier),
                           actions=tuple(EarlierAction(action=a.action, agency=agencies.get(a.agency_id or ""),
                                                       at=a.at, rebuttal_url=a.rebuttal_url)
                                         for a in sorted(actions, key=lambda a: (a.at, a.id or "")))), told

    def _source_name(self, source_id: str) -> str:
        source = self._sources.get(source_id)
        return source.name if source else source_id

    def catch_up(self, store: Store, hours: int = CATCH_UP_HOURS) -> int:
        """Re-run the rules over articles first stored lately: a run killed between storing an
        article and queueing its flag would otherwise lose the flag. Queueing is idempotent. By
        when the store first saw them, not their publication date: a story published weeks ago
        and found today is exactly what a late flag must not miss. An article whose rules or
        email fail is logged and left for the next start: it must not stop every run for 48 hours."""
        since = datetime.now(UTC) - timedelta(hours=hours)
        queued = 0
        for article in store.iter_articles(SearchFilters(first_seen_since=since)):
            try:
                queued += self.on_stored(article)
            except StoreError:
                raise                   # the store itself fails: not one article's fault, say so once
            except Exception as exc:  # noqa: BLE001 - one article's flag never stops the run (or `serve`)
                log.warning("catch-up: the alert rules failed for %s (%s): %s: %s; the next start tries again",
                            article.id, article.fetched.url, type(exc).__name__, exc)
        return queued

    def deliver(self, notifier: Notifier, now: datetime | None = None) -> int:
        """Send what is due; returns how many were accepted."""
        report = deliver_due(self._store, notifier, now or datetime.now(UTC),
                             policy=DeliveryPolicy.from_settings(self._settings.app.outbox))
        return len(report.sent)


def _action_ref(action: ResponseAction) -> str:
    """A recorded action's identity for the resurfacing key: its store id; without one (a store
    that set none), what it was, by whom and when, which stays the same across reruns."""
    return action.id or f"{action.flag_key}\x1f{action.action}\x1f{action.actor}\x1f{action.at.isoformat()}"
