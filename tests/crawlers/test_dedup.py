"""Syndicated-copy detection on the fixture pages: edited copies join a story, same-topic stories don't."""

from __future__ import annotations

import pytest

from crawlers.dedup import DEFAULT_THRESHOLD, assign_story, band_keys, signature, similarity
from crawlers.extract import extract_article
from haidang.record import Article, Content, Fetched
from haidang.store.base import StoryCandidate
from tests.crawlers.test_extract import BASE, SELECTORS, SITES

ORIGINAL = "baoquangngai/kinh-te/202603/quang-ngai-thu-hut-dau-tu-quy-i-3201.htm"
EDITED_COPY = "tuoitre/quang-ngai-hut-von-dau-tu-quy-i-20260310081500123.htm"
SAME_TOPIC = [   # investment or tourism in Quảng Ngãi, but other stories
    "quangngai-gov/tin-tuc/hoi-nghi-xuc-tien-dau-tu-tai-ly-son.html",
    "vnexpress/thoi-su/quang-ngai-don-tau-du-lich-quoc-te-den-ly-son-4870001.html",
    "vnexpress/kinh-doanh/nha-may-loc-dau-dung-quat-bao-duong-dinh-ky-4870002.html",
    "foreign-en/asia/vietnam-quang-ngai-steel-plant-expansion.html",
    "baoquangngai/xa-hoi/202603/mang-den-vao-mua-hoa-3202.htm",
    "quangngai-gov/tin-tuc/trien-khai-ke-hoach-thong-tin-doi-ngoai-nam-2026.html",
]


class FakeStore:
    """Just the two Store methods dedup uses; the contract suite covers real backends."""

    def __init__(self) -> None:
        self.keys: dict[str, set[str]] = {}
        self.rows: dict[str, StoryCandidate] = {}

    def story_candidates(self, band_keys: list[str]) -> list[StoryCandidate]:
        ids = {aid for key in band_keys for aid in self.keys.get(key, ())}
        return [self.rows[aid] for aid in sorted(ids)]

    def add_story_keys(self, article_id: str, story_id: str, band_keys: list[str],
                       signature: list[int]) -> None:
        self.rows[article_id] = StoryCandidate(article_id=article_id, story_id=story_id, signature=signature)
        for key in band_keys:
            self.keys.setdefault(key, set()).add(article_id)


def _extract(path: str) -> Article:
    source = path.split("/")[0]
    html = (SITES / path).read_text(encoding="utf-8").replace("{BASE}", BASE)
    return extract_article(Article(fetched=Fetched(source_id=source, url=f"{BASE}/{path}", html=html)),
                           SELECTORS[source])


@pytest.fixture(scope="module")
def pages() -> dict[str, Article]:
    return {p: _extract(p) for p in [ORIGINAL, EDITED_COPY, *SAME_TOPIC]}


def test_edited_copy_is_similar_and_other_stories_are_not(pages: dict[str, Article]) -> None:
    sig = {p: signature(a.content.text) for p, a in pages.items()}
    assert similarity(sig[ORIGINAL], sig[EDITED_COPY]) >= DEFAULT_THRESHOLD + 0.1
    for other in SAME_TOPIC:
        assert similarity(sig[ORIGINAL], sig[other]) < DEFAULT_THRESHOLD - 0.2, other
        assert similarity(sig[EDITED_COPY], sig[other]) < DEFAULT_THRESHOLD - 0.2, other


@pytest.mark.parametrize("first", [ORIGINAL, EDITED_COPY])
def test_assign_story_joins_the_copy_in_either_order(pages: dict[str, Article], first: str) -> None:
    store = FakeStore()
    order = [first, *(p for p in (ORIGINAL, EDITED_COPY) if p != first), *SAME_TOPIC]
    for path in order:
        assign_story(pages[path], store)
    first_id = pages[first].id
    assert pages[ORIGINAL].story_id == pages[EDITED_COPY].story_id == first_id
    for other in SAME_TOPIC:
        assert pages[other].story_id == pages[other].id, other
    assert set(store.rows) == {pages[p].id for p in order}


def test_reingest_keeps_story(pages: dict[str, Article]) -> None:
    store = FakeStore()
    assign_story(pages[ORIGINAL], store)
    assign_story(pages[EDITED_COPY], store)
    story = pages[EDITED_COPY].story_id
    again = _extract(EDITED_COPY)
    assign_story(again, store)
    assert again.story_id == story == pages[ORIGINAL].id


def test_short_text_starts_its_own_story_and_leaves_no_keys() -> None:
    store = FakeStore()
    article = Article(id="a1", fetched=Fetched(source_id="x", url="http://x/1"),
                      content=Content(title="Quảng Ngãi", text="Tin ngắn."))
    assign_story(article, store)
    assert article.story_id == "a1" and not store.rows


def test_signature_shape_and_stability() -> None:
    text = "Hòa bình và phát triển bền vững ở Quảng Ngãi " * 5
    sig = signature(text)
    assert len(sig) == 120 and all(0 <= v < 2**31 for v in sig)
    assert signature(text) == sig
    assert signature(text.upper().replace("ò", "o")) == sig         # folded: case and marks ignored
    assert len(band_keys(sig)) == 40 and len(set(band_keys(sig))) == 40
    assert similarity(sig, sig) == 1.0
    assert similarity(sig, signature("Một câu hoàn toàn khác về thời tiết miền Bắc hôm nay")) < 0.2
    # Stored signatures must survive upgrades: this pins the hash family.
    assert signature("lũ lụt miền trung")[:3] == PINNED


PINNED = [503095162, 227334579, 130456090]


_ZH_STORY = ("越南广义省李山岛旅游业快速发展。据越南通讯社报道，今年前十个月，李山岛接待游客超过三十万人次，"
             "同比增长百分之二十。当地政府表示，将继续改善交通和住宿条件，吸引更多国内外游客前来观光。"
             "李山岛以火山地貌和大蒜种植闻名，被誉为越南的“大蒜王国”。")
# the same story reprinted by another outlet: new headline, a few words changed, a sentence added
_ZH_COPY = ("李山岛游客人数大幅增长。据越南通讯社消息，今年前十个月，李山岛共接待游客逾三十万人次，"
            "同比增长百分之二十。当地政府表示，将进一步改善交通和住宿条件，吸引更多国内外游客前来观光。"
            "李山岛以火山地貌和大蒜种植闻名，被誉为越南的“大蒜王国”。广义省还计划开通新的航线。")
# another story that shares one boilerplate sentence
_ZH_OTHER = ("越南岘港市举办国际烟花节。据越南通讯社报道，今年的烟花节吸引了来自多个国家的代表队参赛，"
             "当地政府表示，将继续改善交通和住宿条件，吸引更多国内外游客。")


def test_a_chinese_copy_is_compared_by_characters() -> None:
    """Chinese has no spaces: as runs between punctuation, the copy shared too few 3-shingles (0.13)."""
    story = signature(_ZH_STORY)
    assert similarity(story, signature(_ZH_COPY)) >= DEFAULT_THRESHOLD
    assert similarity(story, signature(_ZH_OTHER)) < DEFAULT_THRESHOLD
