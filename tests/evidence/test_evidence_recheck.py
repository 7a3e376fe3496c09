"""Re-checks after a takedown request, against a real page on 127.0.0.1 that changes, then disappears.

Every fetch goes through the crawler child process (robots.txt and all); times are fixed, and the
scheduled function is called directly at each moment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawlers.decode import decode_document
from crawlers.events import CrawlFailure, FetchedDoc, Skipped
from crawlers.extract import extract_article
from haidang.evidence.capture import capture_flag_evidence, evidence_text, text_sha256
from haidang.evidence.recheck import RecheckTarget, due_rechecks, judge, recheck_due
from haidang.record import Article, Content, Fetched
from haidang.settings import AppSettings, CrawlSettings, RecheckSettings, Selectors, Settings, Source
from haidang.sites import FixtureServer, serve_sites
from haidang.store.base import ResponseAction, Store
from haidang.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)      # 08:00 in Quảng Ngãi

_PAGE = """<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>{title}</title></head>
<body><article><h1>{title}</h1>
<p>{body}</p>
<p>Bài viết được chia sẻ rộng rãi trên mạng xã hội trong ngày hôm qua, nhiều người dân tỏ ra lo lắng.</p>
</article></body></html>
"""
_FIRST = ("Tin đồn vỡ đập thủy điện ở Quảng Ngãi",
          "Nghe nói đập thủy điện ở Quảng Ngãi đã bị vỡ, hãy chia sẻ gấp trước khi bị xóa.")
_EDITED = ("Đính chính: đập thủy điện ở Quảng Ngãi vẫn an toàn",
           "Thông tin đập bị vỡ là sai sự thật; cơ quan chức năng khẳng định đập vẫn vận hành bình thường.")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[FixtureServer, Path]]:
    root = tmp_path / "site"
    (root / "tin").mkdir(parents=True)
    (root / "private").mkdir()
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n", encoding="utf-8")
    (root / "tin" / "bai-1.html").write_text(_PAGE.format(title=_FIRST[0], body=_FIRST[1]), encoding="utf-8")
    (root / "private" / "bai-2.html").write_text(_PAGE.format(title=_FIRST[0], body=_FIRST[1]), encoding="utf-8")
    with serve_sites(root) as server:
        yield server, root


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = SqliteStore(tmp_path / "data" / "haidang.sqlite3")
    yield opened
    opened.close()


def _source() -> Source:
    return Source(id="mxh", name="Trang mạng xã hội", country="VN", language="vi", kind="platform", local=True)


def _settings(**recheck: float) -> Settings:
    crawl = CrawlSettings(download_timeout_s=5, retry_times=0, autothrottle_start_delay_s=0)
    return Settings(config_dir="unused", app=AppSettings(crawl=crawl, recheck=RecheckSettings(**recheck)),
                    sources=[_source()])


def _flag_and_request(store: Store, url: str, body: bytes, at: datetime) -> Article:
    """Store the article as the pipeline would, keep its evidence, and record a takedown request."""
    fetched = Fetched(source_id="mxh", url=url, final_url=url, status=200, fetched_at=at,
                      content_type="text/html; charset=utf-8", html=decode_document(body, "text/html").text)
    article = extract_article(Article(fetched=fetched), Selectors())
    article.story_id = article.id
    assert store.upsert(article) == "new"
    assert capture_flag_evidence(store, article, body, now=at) is not None
    store.record_action(ResponseAction(flag_key="k" * 32, story_id=article.id, article_id=article.id,
                                       rule="tin-sai", action="de_nghi_go_bo", actor="a@so-ttt.example.vn",
                                       at=at + timedelta(minutes=30)))
    return article


def test_a_page_is_rechecked_then_found_changed_then_gone(site: tuple[FixtureServer, Path], store: Store) -> None:
    server, root = site
    page = root / "tin" / "bai-1.html"
    article = _flag_and_request(store, f"{server.base_url}/tin/bai-1.html", page.read_bytes(), T0)
    denied = _flag_and_request(store, f"{server.base_url}/private/bai-2.html",
                               (root / "private" / "bai-2.html").read_bytes(), T0)
    settings = _settings(every_hours=6, for_days=30)

    first = recheck_due(store, settings, T0 + timedelta(hours=1))
    assert first.outcomes == {article.id: "unchanged", denied.id: "unreachable"}
    assert recheck_due(store, settings, T0 + timedelta(hours=2)).outcomes == {}      # not due yet

    page.write_text(_PAGE.format(title=_EDITED[0], body=_EDITED[1]), encoding="utf-8")
    assert recheck_due(store, settings, T0 + timedelta(hours=7, minutes=1)).outcomes == {
        article.id: "changed", denied.id: "unreachable"}

    page.unlink()
    assert recheck_due(store, settings, T0 + timedelta(hours=13, minutes=2)).outcomes[article.id] == "gone"
    assert article.id not in recheck_due(store, settings, T0 + timedelta(hours=20)).outcomes  # gone: done

    flag, unchanged, changed, gone = store.evidence(article.id)
    assert (flag.kind, flag.outcome) == ("flag", "captured")
    assert (unchanged.kind, unchanged.outcome, unchanged.html, unchanged.status_code) == ("recheck", "unchanged", b"", 200)
    assert changed.outcome == "changed" and "vẫn an toàn" in changed.html.decode("utf-8")
    assert changed.sha256 == hashlib.sha256(changed.html).hexdigest() and "vẫn an toàn" in changed.text
    assert (gone.outcome, gone.status_code, gone.html) == ("gone", 404, b"")
    assert flag.html and "vỡ" in flag.text                     # the original is still there to show
    assert [e.note for e in store.evidence(denied.id) if e.kind == "recheck"] == ["not fetched: robots"] * 4

    audit = [e for e in store.audit() if e.kind == "evidence" and e.target == article.id]
    assert [e.detail["outcome"] for e in audit] == ["captured", "unchanged", "changed", "gone"]
    assert server.requests_for("/robots.txt")                   # fetched politely, through the crawler
    assert not server.requests_for("/private/bai-2.html")


def test_a_host_that_asked_to_wait_is_not_rechecked_before_its_time(site: tuple[FixtureServer, Path],
                                                                     store: Store) -> None:
    from haidang.store.base import HostPause

    server, root = site
    article = _flag_and_request(store, f"{server.base_url}/tin/bai-1.html", (root / "tin" / "bai-1.html").read_bytes(),
                                T0)
    now = datetime.now(UTC)
    store.set_host_pause(HostPause(host=server.base_url.removeprefix("http://"), until=now + timedelta(minutes=10),
                                   source_id="mxh", url=f"{server.base_url}/tin/bai-1.html", status=429,
                                   asked_s=600.0, at=now))

    report = recheck_due(store, _settings(every_hours=6, for_days=30), T0 + timedelta(hours=1))

    assert report.outcomes == {article.id: "unreachable"}
    assert store.evidence(article.id)[-1].note == "not fetched: retry-after"
    assert server.requests == []                 # neither the page nor robots.txt


def test_rechecks_stop_after_the_window(store: Store, tmp_path: Path) -> None:
    url = "https://mxh.example.vn/bai-3.html"
    body = _PAGE.format(title=_FIRST[0], body=_FIRST[1]).encode("utf-8")
    article = _flag_and_request(store, url, body, T0)
    settings = RecheckSettings(every_hours=6, for_days=30)
    [target] = due_rechecks(store, settings, T0 + timedelta(days=1))
    assert (target.article_id, target.url) == (article.id, url)
    assert target.baseline_sha256 == text_sha256(evidence_text(article.content))
    assert due_rechecks(store, settings, T0 + timedelta(days=31)) == []
    assert due_rechecks(store, settings, T0) == []                 # the request comes after the flag


def test_actions_other_than_takedown_or_correction_start_no_recheck(store: Store) -> None:
    url = "https://mxh.example.vn/bai-4.html"
    body = _PAGE.format(title=_FIRST[0], body=_FIRST[1]).encode("utf-8")
    fetched = Fetched(source_id="mxh", url=url, final_url=url, fetched_at=T0,
                      html=decode_document(body, "text/html").text)
    article = extract_article(Article(fetched=fetched), Selectors())
    store.upsert(article)
    store.record_action(ResponseAction(flag_key="k" * 32, story_id=article.id, article_id=article.id,
                                       rule="tin-sai", action="phan_bac", actor="a@so-ttt.example.vn", at=T0))
    assert due_rechecks(store, RecheckSettings(), T0 + timedelta(days=1)) == []


def _target() -> RecheckTarget:
    return RecheckTarget(article_id="a1", story_id="a1", source_id="mxh", url="https://mxh.example.vn/a",
                         baseline_sha256=text_sha256("Tiêu đề\n\nNội dung"), requested_at=T0)


@pytest.mark.parametrize(("status", "outcome"), [(404, "gone"), (410, "gone"), (451, "gone"),
                                                 (403, "unreachable"), (503, "unreachable")])
def test_http_failures_are_judged_by_status(status: int, outcome: str) -> None:
    failure = CrawlFailure(source_id="mxh", url="https://mxh.example.vn/a", stage="fetch", error_class="HttpError",
                           message=f"HTTP {status} from https://mxh.example.vn/a (source mxh); check the URL",
                           transient=status >= 500)
    evidence = judge(_target(), failure, None, now=T0)
    assert (evidence.kind, evidence.outcome, evidence.status_code) == ("recheck", outcome, status)


def test_a_page_replaced_by_something_without_text_is_changed() -> None:
    doc = FetchedDoc(source_id="mxh", url="https://mxh.example.vn/a", final_url="https://mxh.example.vn/",
                     status=200, headers={"content-type": "text/html"}, body=b"<html><body></body></html>",
                     fetched_at=T0)
    evidence = judge(_target(), doc, None, now=T0)
    assert evidence.outcome == "changed" and evidence.html == doc.body
    assert "no text could be extracted" in (evidence.note or "")
    assert "redirected to https://mxh.example.vn/" in (evidence.note or "")


def test_no_answer_is_unreachable_not_gone() -> None:
    assert judge(_target(), None, None, now=T0).outcome == "unreachable"
    skipped = Skipped(source_id="mxh", url="https://mxh.example.vn/a", reason="oversize")
    assert judge(_target(), skipped, None, now=T0).note == "not fetched: oversize"


def _flag_feed_only(store: Store, url: str, at: datetime) -> Article:
    """A feed-only item (source follow_links: false) stored and flagged as the pipeline would, with a
    takedown request: its evidence is the feed entry; no page of it was ever fetched."""
    fetched = Fetched(source_id="mxh", url=url, final_url=url, status=200, fetched_at=at,
                      feed_url="https://mxh.example.vn/feed.rss", feed_title=_FIRST[0], feed_summary=_FIRST[1])
    article = extract_article(Article(fetched=fetched), Selectors())
    article.story_id = article.id
    assert store.upsert(article) == "new"
    assert capture_flag_evidence(store, article, None, now=at) is not None
    store.record_action(ResponseAction(flag_key="f" * 32, story_id=article.id, article_id=article.id,
                                       rule="tin-sai", action="de_nghi_go_bo", actor="a@so-ttt.example.vn",
                                       at=at + timedelta(minutes=30)))
    return article


def test_a_feed_only_item_is_rechecked_at_its_link_and_its_first_page_is_a_capture(
        site: tuple[FixtureServer, Path], store: Store) -> None:
    server, root = site
    page = root / "tin" / "bai-1.html"
    article = _flag_feed_only(store, f"{server.base_url}/tin/bai-1.html", T0)
    [target] = due_rechecks(store, RecheckSettings(), T0 + timedelta(hours=1))
    assert (target.url, target.page_kept) == (article.fetched.url, False)
    settings = _settings(every_hours=6, for_days=30)

    # The page's text is not the feed's summary, yet nothing changed: a first copy, not "changed".
    assert recheck_due(store, settings, T0 + timedelta(hours=1)).outcomes == {article.id: "captured"}
    assert recheck_due(store, settings, T0 + timedelta(hours=7)).outcomes == {article.id: "unchanged"}
    page.write_text(_PAGE.format(title=_EDITED[0], body=_EDITED[1]), encoding="utf-8")
    assert recheck_due(store, settings, T0 + timedelta(hours=13)).outcomes == {article.id: "changed"}

    entry, first, unchanged, changed = store.evidence(article.id)
    assert entry.kind == "flag" and b'"feed_url"' in entry.html
    assert (first.kind, first.outcome, first.status_code) == ("recheck", "captured", 200)
    assert first.sha256 == hashlib.sha256(first.html).hexdigest() and "vỡ" in first.text
    assert "first copy of the page" in (first.note or "")
    assert (unchanged.html, changed.outcome) == (b"", "changed") and "vẫn an toàn" in changed.text
    assert server.requests_for("/tin/bai-1.html")


def test_an_item_without_a_web_link_says_it_cannot_be_rechecked(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"
    fetched = Fetched(source_id="mxh", url=url, final_url=url, canonical_url=url, status=200, fetched_at=T0,
                      feed_url="https://mxh.example.vn/feed.rss", feed_title=_FIRST[0], feed_summary=_FIRST[1])
    article = Article(id="khong-co-link", fetched=fetched, content=Content(title=_FIRST[0], text=_FIRST[1]),
                      story_id="khong-co-link")
    store.upsert(article)
    assert capture_flag_evidence(store, article, None, now=T0) is not None
    store.record_action(ResponseAction(flag_key="u" * 32, story_id=article.id, article_id=article.id, rule="tin-sai",
                                       action="de_nghi_go_bo", actor="a@so-ttt.example.vn", at=T0))
    import crawlers.runner

    def no_crawl(*args: object, **kwargs: object) -> None:
        raise AssertionError("a crawl was started for a link the crawler cannot fetch")

    monkeypatch.setattr(crawlers.runner, "crawl", no_crawl)
    report = recheck_due(store, _settings(every_hours=6, for_days=30), T0 + timedelta(hours=1))
    assert report.outcomes == {article.id: "unreachable"}
    check = store.evidence(article.id)[-1]
    assert check.kind == "recheck" and check.html == b"" and check.status_code is None
    assert "cannot be re-checked" in (check.note or "") and url in (check.note or "")
