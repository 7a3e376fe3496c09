"""Store behaviour, stated once and run on every backend (see conftest.py for the backends)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from haidang.errors import QueryError
from haidang.record import Article
from haidang.store.base import (
    SEARCH_LIMIT_MAX,
    SEARCH_WINDOW,
    FailureRecord,
    HostPause,
    SearchFilters,
    SourceRun,
    Store,
    Validators,
)
from haidang.store.export import export_jsonl

from .conftest import T0, VN, build_article, province_match


def _ids(store: Store, query: str, filters: SearchFilters | None = None) -> set[str]:
    return {hit.id for hit in store.search(query, filters, limit=100).hits}


@pytest.fixture
def corpus(store: Store) -> dict[str, str]:
    """A handful of articles that the search tests share; returns slug -> id."""
    articles = [
        build_article("lu-dong-thap", "Đồng Tháp chủ động ứng phó mùa lũ",
                      "Tỉnh Đồng Tháp huy động lực lượng gia cố đê bao trước mùa lũ năm nay.",
                      source="baodongthap", province="82", published=datetime(2025, 9, 3, 9, 0, tzinfo=VN)),
        build_article("ly-son", "Lý Sơn đón khách du lịch dịp lễ",
                      "Đảo Lý Sơn của Quảng Ngãi đón hàng nghìn du khách; dịch vụ du lịch hoạt động hết công suất.",
                      source="baoquangngai", province="51", relevant=True,
                      published=datetime(2025, 9, 1, 7, 30, tzinfo=VN)),
        build_article("da-nang", "Đà Nẵng mở thêm tuyến xe buýt",
                      "Thành phố Đà Nẵng khai trương hai tuyến xe buýt mới nối sân bay với trung tâm.",
                      source="vnexpress", published=datetime(2025, 8, 20, 6, 0, tzinfo=VN)),
        build_article("khanh-hoa", "Khánh Hoà phát triển kinh tế biển",
                      "Tỉnh Khánh Hòa đẩy mạnh nuôi trồng thủy sản và du lịch biển đảo.",
                      source="baokhanhhoa", province="56", published=None, first_seen=datetime(2025, 6, 1, tzinfo=UTC)),
        build_article("bong-da", "Đồng Tháp thắng trận bóng đá",
                      "Câu lạc bộ bóng đá Đồng Tháp giành chiến thắng trên sân nhà.",
                      source="baodongthap", province="82", lang="vi",
                      published=datetime(2025, 9, 5, 19, 0, tzinfo=VN)),
        build_article("english", "Quang Ngai hosts investment forum",
                      "Central Quang Ngai province hosted an investment forum on Dung Quat.",
                      source="vnexpress-en", lang="en", province="51",
                      published=datetime(2025, 9, 2, 10, 0, tzinfo=UTC)),
        build_article("thap-dong", "Tháp Chàm giữa cánh đồng",
                      "Ngọn tháp cổ đứng giữa cánh đồng lúa chín vàng.",
                      source="vnexpress", published=datetime(2025, 9, 4, tzinfo=VN)),
    ]
    ids = {}
    for article in articles:
        assert store.upsert(article) == "new"
        ids[article.fetched.url.rsplit("/", 1)[1][:-5]] = article.id
    return ids


def test_backend_implements_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)


# -- upsert and get -------------------------------------------------------------------------------

def test_upsert_new_unchanged_updated(store: Store) -> None:
    article = build_article("a1", "Bão số 5 đổ bộ", "Bão số 5 đổ bộ vào Quảng Ngãi.", content_hash="h1")
    assert store.upsert(article) == "new"
    assert store.upsert(article) == "unchanged"
    assert store.count() == 1
    article.content.text = "Bão số 5 đổ bộ vào Quảng Ngãi, gây mưa lớn."
    article.content.content_hash = "h2"
    assert store.upsert(article) == "updated"
    assert store.upsert(article) == "unchanged"
    assert store.count() == 1
    assert store.get(article.id).content.text.endswith("gây mưa lớn.")


def test_unchanged_content_hash_keeps_stored_copy(store: Store) -> None:
    article = build_article("a1", "Tin gốc", "Nội dung gốc", content_hash="same")
    store.upsert(article)
    article.content.title = "Tiêu đề khác"
    assert store.upsert(article) == "unchanged"
    assert store.get(article.id).content.title == "Tin gốc"


def test_the_same_text_fetched_again_brings_its_new_counts(store: Store) -> None:
    """The post spread since it was stored: "unchanged" (no new flag, no re-enrichment), but the
    counts the page states now are kept; one it no longer states stays as it was."""
    article = build_article("a1", "Tin", "Nội dung", content_hash="same")
    article.content.engagement = {"likes": 10, "shares": 2}
    store.upsert(article)
    again = build_article("a1", "Tin", "Nội dung", content_hash="same")
    again.content.engagement = {"shares": 3400, "comments": 51}
    assert store.upsert(again) == "unchanged"
    assert store.get(article.id).content.engagement == {"likes": 10, "shares": 3400, "comments": 51}
    again.content.engagement = {}
    assert store.upsert(again) == "unchanged"
    assert store.get(article.id).content.engagement == {"likes": 10, "shares": 3400, "comments": 51}
    assert store.count() == 1


def test_upsert_without_content_hash_compares_title_and_text(store: Store) -> None:
    article = build_article("a1", "Tin", "Nội dung")
    assert store.upsert(article) == "new"
    assert store.upsert(build_article("a1", "Tin", "Nội dung")) == "unchanged"
    assert store.upsert(build_article("a1", "Tin", "Nội dung mới")) == "updated"


def test_first_seen_never_moves(store: Store) -> None:
    first = build_article("a1", "Tin", "một", first_seen=T0)
    store.upsert(first)
    later = build_article("a1", "Tin", "hai", first_seen=T0 + timedelta(days=3))
    assert store.upsert(later) == "updated"
    stored = store.get(first.id)
    assert stored.content.first_seen == T0
    assert stored.content.text == "hai"


def test_first_seen_is_set_when_missing(store: Store) -> None:
    article = build_article("a1", "Tin", "một", first_seen=None)
    store.upsert(article)
    first_seen = store.get(article.id).content.first_seen
    assert first_seen is not None and first_seen.tzinfo is not None


def test_get_roundtrip(store: Store) -> None:
    published = datetime(2025, 7, 1, 14, 5, 6, tzinfo=VN)
    article = build_article(
        "roundtrip", "Quảng Ngãi đón đoàn công tác", "Sáng nay, Quảng Ngãi đón đoàn công tác.",
        published=published, province="51", relevant=True, story_id="story-1",
        matches=[province_match("51", "Quảng Ngãi", 10, 20)],
    )
    article.labels = {"topics": [{"name": "đối ngoại", "reasons": ["đoàn công tác"]}]}
    article.content.author = "Nguyễn Văn A"
    article.content.engagement = {"likes": 1520, "comments": 87, "shares": 3400}
    store.upsert(article)
    stored = store.get(article.id)
    assert stored is not None
    assert stored.to_dict() == article.to_dict()
    assert stored.content.published == published
    assert stored.content.published.utcoffset() == timedelta(hours=7)
    assert stored.fetched.fetched_at == T0
    assert stored.matches[0].spans[0].start == 10
    assert store.get("0" * 32) is None


# -- search -----------------------------------------------------------------------------------------

def test_search_with_and_without_diacritics(store: Store, corpus: dict[str, str]) -> None:
    expected = {corpus["lu-dong-thap"], corpus["bong-da"]}
    assert _ids(store, "dong thap") >= expected
    assert _ids(store, "Đồng Tháp") == _ids(store, "dong thap")
    assert _ids(store, "ĐỒNG THÁP") == _ids(store, "dong thap")


def test_search_folds_d_stroke(store: Store, corpus: dict[str, str]) -> None:
    assert corpus["da-nang"] in _ids(store, "da nang")
    assert corpus["da-nang"] in _ids(store, "Đà Nẵng")
    assert corpus["da-nang"] in _ids(store, "dà nẵng")


def test_search_tone_mark_placement(store: Store, corpus: dict[str, str]) -> None:
    for query in ("hoà", "hòa", "hoa", "Khánh Hoà", "khanh hoa"):
        assert corpus["khanh-hoa"] in _ids(store, query), query
    assert _ids(store, "thuỷ sản") == _ids(store, "thủy sản") == {corpus["khanh-hoa"]}


def test_all_words_must_match(store: Store, corpus: dict[str, str]) -> None:
    assert _ids(store, "du lich ly son") == {corpus["ly-son"]}
    assert _ids(store, "du lich xe buyt") == set()


def test_phrase(store: Store, corpus: dict[str, str]) -> None:
    words = _ids(store, "thap dong")
    assert corpus["thap-dong"] in words and corpus["lu-dong-thap"] in words
    assert corpus["thap-dong"] not in _ids(store, '"dong thap"')
    assert corpus["lu-dong-thap"] in _ids(store, '"dong thap"')
    assert _ids(store, '"thap co"') == {corpus["thap-dong"]}


def test_or(store: Store, corpus: dict[str, str]) -> None:
    assert _ids(store, "buyt OR chien") == {corpus["da-nang"], corpus["bong-da"]}
    assert _ids(store, '"xe buyt" OR "bong da" dong thap') == {corpus["bong-da"]}
    # lower-case "or" is a word, not an operator
    assert _ids(store, "buyt or chien") == set()


def test_exclusions(store: Store, corpus: dict[str, str]) -> None:
    assert _ids(store, "dong thap -bong") == {corpus["lu-dong-thap"], corpus["thap-dong"]}
    assert _ids(store, '"dong thap" -"bong da"') == {corpus["lu-dong-thap"]}
    assert _ids(store, 'dong thap -"bong da" -lua') == {corpus["lu-dong-thap"]}
    assert _ids(store, "du lich -\"Lý Sơn\"") == {corpus["khanh-hoa"]}
    assert _ids(store, '"dong thap" -mua -chien') == set()


def test_punctuation_inside_words_is_a_separator(store: Store) -> None:
    article = build_article("tphcm", "TP.HCM triển khai xe buýt điện", "TP.HCM thí điểm xe buýt điện từ năm 2025.")
    store.upsert(article)
    assert article.id in _ids(store, "TP.HCM")
    assert article.id in _ids(store, "tp hcm")
    assert article.id in _ids(store, "xe-buýt, điện!")


def test_chinese_japanese_and_korean_words_are_found_inside_longer_runs(store: Store) -> None:
    """Foreign press about the province: 广义省 inside a Chinese sentence, 꽝응아이 with its particles."""
    zh = build_article("zh", "越南广义省李山岛旅游", "越南广义省李山岛吸引大量游客。", lang="zh", province="51")
    ko = build_article("ko", "꽝응아이성 관광", "꽝응아이성에서 열린 축제에 관광객이 몰렸다.", lang="ko", province="51")
    ja = build_article("ja", "ダナンの観光", "ダナンが人気です。", lang="ja", province="48")
    vi = build_article("vi", "Lý Sơn đón khách", "Đảo Lý Sơn đón khách du lịch.", province="51")
    for article in (zh, ko, ja, vi):
        store.upsert(article)
    assert _ids(store, "广义省") == {zh.id}
    assert _ids(store, "李山岛 游客") == {zh.id}
    assert _ids(store, "广东省") == set()          # the same 省, another province
    assert _ids(store, "꽝응아이") == {ko.id}
    assert _ids(store, "ダナン") == {ja.id}
    assert _ids(store, "か") == set()               # が is not か
    assert _ids(store, "广义省 OR 꽝응아이") == {zh.id, ko.id}
    assert _ids(store, '"ly son" OR 李山岛') == {zh.id, vi.id}
    assert _ids(store, "广义省 -旅游") == set()
    assert "«广义省»" in store.search("广义省").hits[0].snippet
    assert "«꽝응아이»성에서" in store.search("꽝응아이").hits[0].snippet


def test_filters(store: Store, corpus: dict[str, str]) -> None:
    assert _ids(store, "du lich", SearchFilters(province="51")) == {corpus["ly-son"]}
    assert _ids(store, "du lich", SearchFilters(province="56")) == {corpus["khanh-hoa"]}
    assert _ids(store, "dong thap", SearchFilters(source="baodongthap")) == {corpus["lu-dong-thap"], corpus["bong-da"]}
    assert _ids(store, "quang ngai", SearchFilters(lang="en")) == {corpus["english"]}
    assert _ids(store, "quang ngai", SearchFilters(lang="vi")) == {corpus["ly-son"]}
    assert _ids(store, "du lich", SearchFilters(relevant_only=True)) == {corpus["ly-son"]}


def test_province_filter_uses_matches(store: Store) -> None:
    article = build_article("kon-tum", "Măng Đen vào mùa hoa", "Măng Đen thuộc Quảng Ngãi từ năm 2025.",
                            matches=[province_match("51", "Quảng Ngãi", 0, 8)])
    store.upsert(article)
    assert _ids(store, "mang den", SearchFilters(province="51")) == {article.id}
    assert _ids(store, "mang den", SearchFilters(province="82")) == set()


def test_date_filters_fall_back_to_first_seen(store: Store, corpus: dict[str, str]) -> None:
    since = datetime(2025, 9, 3, tzinfo=VN)
    assert _ids(store, '"dong thap"', SearchFilters(since=since)) == {corpus["lu-dong-thap"], corpus["bong-da"]}
    assert _ids(store, '"dong thap"', SearchFilters(until=datetime(2025, 9, 4, tzinfo=VN))) == {corpus["lu-dong-thap"]}
    # until is exclusive, since inclusive, compared as instants whatever the offset
    exact = datetime(2025, 9, 3, 9, 0, tzinfo=VN)
    assert _ids(store, '"dong thap"', SearchFilters(since=exact.astimezone(UTC), until=exact + timedelta(seconds=1))) \
        == {corpus["lu-dong-thap"]}
    assert _ids(store, '"dong thap"', SearchFilters(until=exact)) == set()
    # "khanh-hoa" has no publication date: its first_seen (1 June 2025) decides
    june = SearchFilters(since=datetime(2025, 5, 31, tzinfo=UTC), until=datetime(2025, 6, 2, tzinfo=UTC))
    assert _ids(store, "khanh hoa", june) == {corpus["khanh-hoa"]}
    assert _ids(store, "khanh hoa", SearchFilters(since=datetime(2025, 7, 1, tzinfo=UTC))) == set()
    assert store.count(june) == 1


def test_first_seen_since_finds_an_old_story_stored_lately(store: Store) -> None:
    """The alert catch-up's filter: by when the store first saw an article, not its publication."""
    old_story = build_article("cu", "Tin cũ về Lý Sơn", "Bài đăng từ năm ngoái, nay mới thu thập.",
                              published=T0 - timedelta(days=400), first_seen=T0)
    seen_long_ago = build_article("da-luu", "Tin đã lưu về Lý Sơn", "Thu thập từ lâu.",
                                  published=T0 - timedelta(days=30), first_seen=T0 - timedelta(days=30))
    for article in (old_story, seen_long_ago):
        store.upsert(article)
    lately = SearchFilters(first_seen_since=T0 - timedelta(hours=48))
    assert [a.id for a in store.iter_articles(lately)] == [old_story.id]
    assert [a.id for a in store.iter_articles(SearchFilters(since=T0 - timedelta(hours=48)))] == []
    assert _ids(store, "ly son", lately) == {old_story.id}


def test_hits_carry_fields_and_highlighted_snippet(store: Store, corpus: dict[str, str]) -> None:
    result = store.search("dong thap lu")
    assert result.total == 1
    hit = result.hits[0]
    assert hit.id == corpus["lu-dong-thap"]
    assert hit.title == "Đồng Tháp chủ động ứng phó mùa lũ"
    assert hit.source_id == "baodongthap"
    assert hit.url == "https://baodongthap.example.vn/lu-dong-thap.html"
    assert hit.published == datetime(2025, 9, 3, 9, 0, tzinfo=VN)
    assert hit.score > 0
    # neighbouring query words are marked as one phrase; folding also marks "động" (dong)
    assert "«Đồng Tháp»" in hit.snippet
    assert "«lũ»" in hit.snippet
    marked = [hit.snippet[s:e] for s, e in hit.highlights]
    assert marked and all(hit.snippet[s - 1] == "«" and hit.snippet[e] == "»" for s, e in hit.highlights)
    assert {m.lower() for m in marked} >= {"đồng tháp", "lũ"}


def test_phrases_and_neighbouring_words_are_highlighted_whole(store: Store, corpus: dict[str, str]) -> None:
    hit = store.search('"Lý Sơn" du lịch').hits[0]
    assert "«Lý Sơn»" in hit.snippet and "«du lịch»" in hit.snippet
    hit = store.search('lịch "Lý Sơn" du').hits[0]      # not neighbours in the query: marked apart
    assert "«Lý Sơn»" in hit.snippet and "«du» «lịch»" in hit.snippet


def test_long_text_snippet_is_a_window_around_the_match(store: Store) -> None:
    filler = "Nội dung không liên quan được lặp lại nhiều lần. " * 40
    article = build_article("dai", "Bài dài", filler + "Cuối bài nhắc tới cảng Dung Quất. " + filler)
    store.upsert(article)
    hit = store.search("dung quat").hits[0]
    assert "«Dung Quất»" in hit.snippet
    assert len(hit.snippet) < 400
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")


def test_title_match_ranks_first(store: Store) -> None:
    body = build_article("body", "Tin tổng hợp trong ngày",
                         "Nhiều tin trong ngày: giá xăng giảm, thời tiết nắng, và cảng Sa Huỳnh được nạo vét.")
    title = build_article("title", "Sa Huỳnh nạo vét cảng cá", "Cảng cá Sa Huỳnh được nạo vét trước mùa mưa bão.")
    store.upsert(body)
    store.upsert(title)
    hits = store.search("sa huynh").hits
    assert [h.id for h in hits] == [title.id, body.id]
    assert hits[0].score > hits[1].score > 0


def test_pagination(store: Store) -> None:
    for i in range(7):
        store.upsert(build_article(f"p{i}", f"Mưa lớn kéo dài ngày {i}", "Mưa lớn kéo dài ở miền Trung. " * (i + 1)))
    first = store.search("mua lon", limit=3)
    second = store.search("mua lon", limit=3, offset=3)
    rest = store.search("mua lon", limit=3, offset=6)
    assert first.total == second.total == rest.total == 7
    ids = [h.id for r in (first, second, rest) for h in r.hits]
    assert len(ids) == len(set(ids)) == 7


def test_words_side_by_side_rank_first(store: Store) -> None:
    apart = build_article("apart", "Đầu năm, tư nhân góp vốn", "Đầu năm nay, tư nhân góp vốn. " * 5)
    together = build_article("together", "Thu hút vốn", "Tỉnh thu hút đầu tư vào khu kinh tế.")
    store.upsert(apart)
    store.upsert(together)
    result = store.search("dau tu")
    assert result.total == 2
    assert [h.id for h in result.hits] == [together.id, apart.id]
    assert result.hits[0].score > result.hits[1].score > 0


def test_pagination_across_adjacent_and_apart_matches(store: Store) -> None:
    for i in range(5):
        store.upsert(build_article(f"t{i}", f"Tin {i}", "Cảng Dung Quất đón tàu. " * (i + 1)))
        store.upsert(build_article(f"a{i}", f"Bài {i}", "Quất và dung dịch. " * (i + 1)))
    full = store.search("dung quat", limit=10)
    assert full.total == 10
    pages = [store.search("dung quat", limit=3, offset=k) for k in (0, 3, 6, 9)]
    assert [h.id for p in pages for h in p.hits] == [h.id for h in full.hits]
    assert {h.id for h in full.hits[:5]} == {build_article(f"t{i}", "x").id for i in range(5)}
    scores = [h.score for h in full.hits]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(("limit", "offset"), [
    ("5", 0), (None, 0), (2.5, 0), (True, 0), (0, 0), (-1, 0), (3, "3"), (3, -1), (3, 10**30), (3, SEARCH_WINDOW),
], ids=["str", "none", "float", "bool", "zero", "negative", "offset-str", "offset-negative", "offset-huge",
        "offset-window"])
def test_bad_limit_or_offset_raise_query_error(store: Store, limit: object, offset: object) -> None:
    """Checked at the interface, before either backend sees them: never a TypeError, an integer
    overflow or a backend's own refusal, and the same answer on both."""
    store.upsert(build_article("mua", "Mưa lớn kéo dài", "Mưa lớn kéo dài ở miền Trung."))
    with pytest.raises(QueryError, match="limit|offset"):
        store.search("mua lon", limit=limit, offset=offset)  # type: ignore[arg-type]


def test_a_huge_limit_is_cut_not_refused(store: Store) -> None:
    for i in range(3):
        store.upsert(build_article(f"h{i}", f"Mưa lớn ngày {i}", "Mưa lớn kéo dài ở miền Trung."))
    every = store.search("mua lon", limit=10**30)
    assert every.total == 3 and len(every.hits) == 3
    last = store.search("mua lon", limit=SEARCH_LIMIT_MAX + 1, offset=SEARCH_WINDOW - 1)
    assert last.total == 3 and last.hits == []


@pytest.mark.parametrize("query", ["", "   ", "-", "dong -", '"dong thap', "-dong", '-"dong thap"',
                                   "OR dong", "dong OR", "dong OR OR thap", '""', "dong OR -thap"])
def test_bad_queries_raise_query_error(store: Store, query: str) -> None:
    with pytest.raises(QueryError):
        store.search(query)


def test_query_syntax_is_never_backend_syntax(store: Store, corpus: dict[str, str]) -> None:
    for query in ("NEAR(dong thap)", "dong*", "^dong", "title:dong", "dong AND thap", "dong NOT bong",
                  "{title}: dong", "dong + thap", "dong~2", "dong^3", "(dong) [thap]"):
        store.search(query)     # must not raise anything but QueryError, and here none at all
    assert _ids(store, "dong AND thap") == set()    # "and" is a word that no article holds


# -- count and iteration ----------------------------------------------------------------------------

def test_count_and_filters(store: Store, corpus: dict[str, str]) -> None:
    assert store.count() == len(corpus)
    assert store.count(SearchFilters(source="baodongthap")) == 2
    assert store.count(SearchFilters(province="51")) == 2
    assert store.count(SearchFilters(relevant_only=True)) == 1


def test_iter_articles_oldest_first(store: Store) -> None:
    for i in (3, 1, 2, 0):
        store.upsert(build_article(f"it{i}", f"Tin {i}", first_seen=T0 + timedelta(hours=i)))
    titles = [a.content.title for a in store.iter_articles()]
    assert titles == ["Tin 0", "Tin 1", "Tin 2", "Tin 3"]
    since = SearchFilters(since=T0 + timedelta(hours=2))
    assert [a.content.title for a in store.iter_articles(since)] == ["Tin 2", "Tin 3"]


def test_iter_articles_can_leave_the_stored_page_out(store: Store) -> None:
    """Reports and digests read every article of a period but never its page: html=False leaves
    only `fetched.html` out, and everything else reads as stored."""
    page = "<html><body><p>Lý Sơn đón khách. \u201cTrích\u201d</p></body></html>" * 50
    stored = build_article("co-trang", "Có trang lưu", first_seen=T0)
    stored.fetched.html = page
    plain = build_article("khong-trang", "Không có trang", first_seen=T0 + timedelta(hours=1))
    store.upsert(stored)
    store.upsert(plain)
    full = list(store.iter_articles())
    assert full[0].fetched.html == page
    light = list(store.iter_articles(SearchFilters(since=T0 - timedelta(hours=1)), html=False))
    assert [a.id for a in light] == [stored.id, plain.id] and all(a.fetched.html is None for a in light)
    light[0].fetched.html = page
    assert [a.to_dict() for a in light] == [a.to_dict() for a in full]


def test_iter_articles_orders_by_first_seen_not_publication(store: Store) -> None:
    """A story published long ago and found today comes last: the digest stops reading there."""
    store.upsert(build_article("late", "Đăng sớm, thấy muộn", published=T0 - timedelta(days=30),
                               first_seen=T0 + timedelta(hours=5)))
    store.upsert(build_article("prompt", "Đăng và thấy ngay", published=T0 + timedelta(hours=1),
                               first_seen=T0 + timedelta(hours=1)))
    assert [a.content.title for a in store.iter_articles()] == ["Đăng và thấy ngay", "Đăng sớm, thấy muộn"]
    found = SearchFilters(first_seen_since=T0)
    assert [a.content.title for a in store.iter_articles(found)] == ["Đăng và thấy ngay", "Đăng sớm, thấy muộn"]


def test_iter_articles_streams_many(store: Store) -> None:
    for i in range(450):
        store.upsert(build_article(f"many{i}", f"Tin số {i}", first_seen=T0 + timedelta(seconds=i)))
    seen = [a.content.title for a in store.iter_articles()]
    assert seen == [f"Tin số {i}" for i in range(450)]


def test_export_jsonl_writes_every_article_once(store: Store, corpus: dict[str, str]) -> None:
    out = io.StringIO()
    assert export_jsonl(store, out) == len(corpus)
    lines = out.getvalue().splitlines()
    assert len(lines) == len(corpus)
    exported = [Article.from_dict(json.loads(line)) for line in lines]
    assert {a.id for a in exported} == set(corpus.values())
    for article in exported:
        assert article.to_dict() == store.get(article.id).to_dict()
    assert "Đồng Tháp" in out.getvalue()       # readable UTF-8, not \u escapes


# -- stories -----------------------------------------------------------------------------------------

def test_story_candidates(store: Store) -> None:
    store.add_story_keys("a1", "s1", ["b0:1", "b1:2"], [1, 2, 3])
    store.add_story_keys("a2", "s1", ["b0:1", "b1:9"], [1, 9, 3])
    store.add_story_keys("a3", "s3", ["b0:7"], [7, 7, 7])
    found = {c.article_id: c for c in store.story_candidates(["b0:1", "zz"])}
    assert set(found) == {"a1", "a2"}
    assert found["a2"].story_id == "s1" and found["a2"].signature == [1, 9, 3]
    assert store.story_candidates([]) == []
    # keys are replaced, not added to
    store.add_story_keys("a1", "s9", ["b0:8"], [8])
    assert {c.article_id for c in store.story_candidates(["b1:2"])} == set()
    assert [(c.article_id, c.story_id) for c in store.story_candidates(["b0:8"])] == [("a1", "s9")]


def test_story_keys_set_a_stored_articles_story(store: Store) -> None:
    article = build_article("copy", "Tin", "Nội dung")
    store.upsert(article)
    store.add_story_keys(article.id, "story-7", ["k"], [1])
    assert store.get(article.id).story_id == "story-7"


# -- validators, runs, failures ----------------------------------------------------------------------

def test_validators(store: Store) -> None:
    assert store.get_validators() == {}
    feed = "https://baoquangngai.vn/rss/home.rss"
    store.set_validators(Validators(url=feed, etag='"abc"', last_modified="Tue, 01 Jul 2025 01:00:00 GMT"),
                         source_id="baoquangngai")
    store.set_validators(Validators(url="https://other.vn/feed", etag=None, last_modified="x"))
    assert store.get_validators([feed]) == {
        feed: Validators(url=feed, etag='"abc"', last_modified="Tue, 01 Jul 2025 01:00:00 GMT")}
    store.set_validators(Validators(url=feed, etag='"def"'))
    assert store.get_validators()[feed] == Validators(url=feed, etag='"def"', last_modified=None)
    assert len(store.get_validators()) == 2
    assert store.get_validators(["https://nowhere.vn/"]) == {}


def test_validators_of_one_source(store: Store) -> None:
    """A poll of one source reads its own validators and those attached to no source, not the table."""
    store.set_validators(Validators(url="https://a.vn/rss", etag='"a"'), source_id="a")
    store.set_validators(Validators(url="https://a.vn/1.html", etag='"a1"'), source_id="a")
    store.set_validators(Validators(url="https://b.vn/rss", etag='"b"'), source_id="b")
    store.set_validators(Validators(url="https://old.vn/x.html", last_modified="x"))     # attached to none
    assert store.get_validators(source_id="a") == {
        "https://a.vn/rss": Validators(url="https://a.vn/rss", etag='"a"'),
        "https://a.vn/1.html": Validators(url="https://a.vn/1.html", etag='"a1"'),
        "https://old.vn/x.html": Validators(url="https://old.vn/x.html", last_modified="x")}
    assert set(store.get_validators(["https://a.vn/rss", "https://b.vn/rss"], source_id="b")) == {"https://b.vn/rss"}
    assert set(store.get_validators(source_id="nobody")) == {"https://old.vn/x.html"}
    assert len(store.get_validators()) == 4


def test_runs_and_source_status(store: Store) -> None:
    t = datetime(2025, 9, 1, 1, 0, tzinfo=UTC)
    store.record_run(SourceRun(source_id="qn", started_at=t, finished_at=t + timedelta(minutes=1),
                               fetched=5, new=3, updated=1, duplicates=1, skipped={"irrelevant": 2}))
    store.record_run(SourceRun(source_id="qn", started_at=t + timedelta(hours=1),
                               finished_at=t + timedelta(hours=1, minutes=1), errors=1,
                               last_error="TransientFetchError: timeout after 20 s"))
    store.record_run(SourceRun(source_id="dt", started_at=t, finished_at=t + timedelta(minutes=2)))
    store.upsert(build_article("s1", "Tin", source="qn"))
    store.upsert(build_article("s2", "Tin hai", source="qn"))
    store.set_validators(Validators(url="https://qn.vn/rss", etag='"1"'), source_id="qn")
    store.set_validators(Validators(url="https://qn.vn/rss2"), source_id="qn")     # holds nothing
    status = {s.source_id: s for s in store.source_status()}
    assert set(status) == {"qn", "dt"}
    qn = status["qn"]
    assert qn.last_success == t + timedelta(minutes=1)
    assert qn.last_error_at == t + timedelta(hours=1, minutes=1)
    assert "timeout" in qn.last_error
    assert qn.articles == 2 and qn.validators == 1
    dt = status["dt"]
    assert dt.last_success == t + timedelta(minutes=2) and dt.last_error is None
    assert dt.articles == 0 and dt.validators == 0


def test_failures(store: Store) -> None:
    t = datetime(2025, 9, 1, 1, 0, tzinfo=UTC)
    store.record_failure(FailureRecord(source_id="qn", url="https://qn.vn/a", stage="extract",
                                       error_class="ExtractError", message="no text", at=t))
    store.record_failure(FailureRecord(source_id="dt", url="https://dt.vn/b", stage="fetch",
                                       error_class="PermanentFetchError", message="404", at=t + timedelta(minutes=1)))
    store.record_failure(FailureRecord(source_id="qn", url="https://qn.vn/a", stage="extract",
                                       error_class="ExtractError", message="still no text", at=t + timedelta(hours=1)))
    all_failures = store.failures()
    assert [f.source_id for f in all_failures] == ["qn", "dt"]     # most recent first
    qn = store.failures("qn")
    assert len(qn) == 1
    assert qn[0].attempts == 2 and qn[0].message == "still no text" and qn[0].at == t + timedelta(hours=1)
    assert store.failures("nobody") == []
    status = {s.source_id: s for s in store.source_status()}
    assert "still no text" in status["qn"].last_error
    assert status["dt"].last_success is None


def _pause(host: str, until: datetime, *, at: datetime, source: str = "qn", asked: float | None = None) -> HostPause:
    return HostPause(host=host, until=until, source_id=source, url=f"https://{host}/rss", status=429,
                     asked_s=asked if asked is not None else (until - at).total_seconds(), at=at)


def test_host_pauses(store: Store) -> None:
    t = datetime(2025, 9, 1, 1, 0, tzinfo=UTC)
    assert store.host_pauses() == [] and store.host_pauses(t) == []
    hour = _pause("baoquangngai.vn", t + timedelta(hours=1), at=t)
    store.set_host_pause(hour)
    store.set_host_pause(_pause("127.0.0.1:8080", t + timedelta(minutes=5), at=t, source="fixture"))
    assert store.host_pauses(t) == [_pause("127.0.0.1:8080", t + timedelta(minutes=5), at=t, source="fixture"), hour]
    # In force strictly before `until`; ended pauses are kept, and listed only without a time.
    assert [p.host for p in store.host_pauses(t + timedelta(minutes=5))] == ["baoquangngai.vn"]
    assert store.host_pauses(t + timedelta(hours=1)) == []
    assert [p.host for p in store.host_pauses()] == ["127.0.0.1:8080", "baoquangngai.vn"]
    # One per host: a pause ending sooner never shortens one that ends later; a later one replaces it.
    store.set_host_pause(_pause("baoquangngai.vn", t + timedelta(minutes=10), at=t + timedelta(minutes=1)))
    assert store.host_pauses(t + timedelta(minutes=30)) == [hour]
    day = _pause("baoquangngai.vn", t + timedelta(hours=24), at=t + timedelta(minutes=2), asked=365 * 86400.0)
    store.set_host_pause(day)
    (kept,) = store.host_pauses(t + timedelta(hours=2))
    assert kept == day and kept.until.tzinfo is not None and kept.asked_s == 365 * 86400.0


# -- backup ------------------------------------------------------------------------------------------

def test_backup_is_a_readable_copy(store: Store, corpus: dict[str, str], backup_target: str,
                                   open_backup) -> None:
    store.backup(backup_target)
    store.upsert(build_article("after", "Tin đăng sau khi sao lưu"))
    copy = open_backup(backup_target)
    try:
        assert copy.count() == len(corpus)
        assert {h.id for h in copy.search("dong thap").hits} == _ids(store, "dong thap")
        assert copy.get(corpus["ly-son"]).to_dict() == store.get(corpus["ly-son"]).to_dict()
    finally:
        copy.close()


def test_set_labels_replaces_labels_and_keeps_content(store):
    article = build_article("bai-nhan", title="Quảng Ngãi đón khách", text="Lý Sơn đón khách quốc tế.")
    store.upsert(article)
    assert store.set_labels(article.id, {"section": {"label": "van_hoa", "score": 0.9}})
    got = store.get(article.id)
    assert got.labels == {"section": {"label": "van_hoa", "score": 0.9}}
    assert got.content.title == "Quảng Ngãi đón khách"
    assert store.set_labels("no-such-id", {}) is False
