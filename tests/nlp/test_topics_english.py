"""Plan topics where the Vietnamese model cannot read: English articles (seeds_en) and Vietnamese
typed without diacritics (folded seeds), on the shipped model and config/topics.yaml."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from haidang.errors import ConfigError
from haidang.record import Article, Content, Fetched, article_id
from nlp.enrich import NOTE_TOPICS_EN, NOTE_UNACCENTED, Enricher
from nlp.match import ProvinceMatcher, match_article
from nlp.topics import (
    DEFAULT_TOPICS_PATH,
    EN_SEED_MIN_DISTINCT,
    TopicClassifier,
    is_unaccented,
    load_topic_config,
    topic_seeds,
    topic_seeds_en,
)

PARACELS = ("Chinese coast guard vessels return to waters near the Paracels",
            ("Chinese coast guard vessels were spotted again near the Paracel Islands this week, fishermen from "
             "Quang Ngai province told reporters. The foreign ministry in Hanoi said the Hoang Sa archipelago "
             "belongs to Vietnam and demanded that China respect its sovereignty in the East Sea."))
BORDER = ("Border guards inspect markers at Lao Bao border gate",
          ("Border guards in Quang Tri province inspected two border markers near the Lao Bao border gate on "
           "Tuesday, after heavy rain damaged a road used by traders."))
PHILIPPINES = ("Philippine coast guard shadows Chinese ships near Scarborough Shoal",
               ("The Philippine coast guard said on Monday that Chinese vessels had blocked a resupply mission near "
                "Scarborough Shoal in the South China Sea. Manila summoned the Chinese ambassador."))
COMMON_WORDS = ("Quang Ngai fishermen enjoy a calm sea",
                ("Fishermen in Quang Ngai province, Vietnam, said the sea was calm this week and the catch was "
                 "good. Traders came from a town near the border to buy squid, and a typhoon is not expected."))


@pytest.fixture(scope="module")
def clf() -> TopicClassifier:
    return TopicClassifier.load()


def _labels(enricher: Enricher, matcher: ProvinceMatcher, title: str, text: str, target: str = "51") -> dict:
    return enricher.labels(title, text, matches=matcher.match(title, text), target=target)


def test_english_sea_story_naming_the_province_is_bien_dao(enricher, matcher):
    labels = _labels(enricher, matcher, *PARACELS)
    assert labels["language"]["label"] == "en"
    topics = {t["id"]: t for t in labels["topics"]}
    assert list(topics) == ["bien_dao"]
    assert {"coast guard", "Paracel", "Hoang Sa", "East Sea"} <= set(topics["bien_dao"]["evidence"])
    # A phrase count, not a model's confidence: at the decision line, never the model's confident range.
    assert 0.5 <= topics["bien_dao"]["score"] <= 0.6
    assert "ngôn ngữ: en; mô hình tiếng Việt không áp dụng" in labels["notes"]
    assert NOTE_TOPICS_EN in labels["notes"]
    assert labels["section"]["label"] == "khong_xac_dinh"       # the Vietnamese models still stay out


def test_english_border_gate_story_is_bien_gioi(enricher, matcher):
    topics = {t["id"]: t for t in _labels(enricher, matcher, *BORDER, target="44")["topics"]}
    assert "bien_gioi" in topics
    assert {"border gate", "border marker", "border guard"} <= set(topics["bien_gioi"]["evidence"])


def test_foreign_news_without_a_vietnamese_angle_gets_no_topic(enricher, matcher, clf):
    """Two strong sea phrases, but neither a matched province nor "Vietnam": the Philippines' story."""
    assert matcher.match(*PHILIPPINES) == []
    assert _labels(enricher, matcher, *PHILIPPINES)["topics"] == []
    assert clf.predict_english(*PHILIPPINES) == []
    title, text = PHILIPPINES
    assert [t["id"] for t in clf.predict_english(title, text + " Vietnam also claims the area.")] == ["bien_dao"]


def test_common_words_and_a_single_phrase_assign_nothing(enricher, matcher, clf):
    assert _labels(enricher, matcher, *COMMON_WORDS)["topics"] == []      # "sea", "border", one "typhoon"
    assert EN_SEED_MIN_DISTINCT == 2
    one = "Vietnam's Quang Ngai counts the damage after the typhoon. The typhoon brought down trees."
    assert clf.predict_english("", one) == []                              # one phrase, twice
    two = one + " A landslide blocked the road."
    assert [t["id"] for t in clf.predict_english("", two)] == ["thien_tai_dich_benh"]


def test_english_matching_is_whole_word_case_plural_and_hyphen_tolerant(clf):
    found = clf._seeds_en.find
    from nlp.topics import _english_fold as low

    assert found(low("the SPRATLYS and the south china sea"))["bien_dao"] == ["Spratly", "South China Sea"]
    assert found(low("ethnic minorities"))["nhan_quyen_ton_giao_dan_toc"] == ["ethnic minority"]
    assert found(low("on the Vietnam–Laos border, border-gates"))["bien_gioi"] == ["Vietnam-Laos border", "border gate"]
    assert found(low("Hoàng Sa"))["bien_dao"] == ["Hoang Sa"]
    assert "bien_dao" not in found(low("paracelsus wrote on coastguarding"))
    assert found(low("the investment project drew an investor"))["dau_tu_thuong_mai"] == ["investment", "investor"]


def test_seeds_en_in_the_shipped_config_and_their_validation(tmp_path: Path):
    config = load_topic_config(DEFAULT_TOPICS_PATH)
    en = topic_seeds_en(config)
    assert all(en[t] for t in en), "every topic has English seed phrases"
    lone = {"sea", "border", "island", "islands", "trade", "rights", "religion", "culture", "economy"}
    assert not lone & {p.lower() for phrases in en.values() for p in phrases}
    text = DEFAULT_TOPICS_PATH.read_text(encoding="utf-8")
    bad = tmp_path / "topics.yaml"
    bad.write_text(text.replace("    seeds_en:\n      - East Sea", "    seeds_en:\n      - ''", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="seeds_en"):
        load_topic_config(bad)
    # Optional: a topics.yaml written before seeds_en loads, with no English phrases.
    lines, keep = [], True
    for line in text.split("\n"):
        keep = False if line == "    seeds_en:" else keep if line.startswith("      - ") else True
        if keep and line != "    seeds_en:":
            lines.append(line)
    bad.write_text("\n".join(lines), encoding="utf-8")
    old = load_topic_config(bad)
    assert topic_seeds(old) == topic_seeds(config) and not any(topic_seeds_en(old).values())
    assert TopicClassifier.load(seeds_en=topic_seeds_en(old)).predict_english(*PARACELS) == []


# --- Vietnamese typed without diacritics --------------------------------------------------------------

SEA_BARE = ("Tau Trung Quoc xam pham vung bien Hoang Sa",
            ("Tau Trung Quoc bat giu ngu dan Quang Ngai danh ca tai vung bien Hoang Sa. Bo Ngoai giao Viet Nam "
             "phan doi, khang dinh chu quyen doi voi hai quan dao Hoang Sa va Truong Sa tren Bien Dong."))
# Folded, "bien dong" is also biến động and "hai quan" also hải quan: two seeds of bien_dao by collision.
MARKET_BARE = ("Thi truong thep bien dong manh",
               ("Gia thep trong nuoc bien dong manh trong thang qua. Theo so lieu cua hai quan, luong thep nhap "
                "khau giam, cac doanh nghiep tai Viet Nam dang cho gia on dinh."))


def test_unaccented_vietnamese_gets_topics_from_folded_multi_syllable_seeds(enricher, matcher):
    assert is_unaccented(SEA_BARE[1]) and not is_unaccented("Biển Đông và quần đảo Hoàng Sa của Việt Nam")
    labels = _labels(enricher, matcher, *SEA_BARE)
    assert labels["language"]["label"] == "vi"
    topics = {t["id"]: t for t in labels["topics"]}
    assert "bien_dao" in topics and topics["bien_dao"]["score"] >= 0.5
    # ("hai quan dao", two archipelagos, reads as "hai quan" (hải quân) first: collisions happen, hence three.)
    assert {"hoang sa", "truong sa", "bien dong", "tau trung quoc"} <= set(topics["bien_dao"]["evidence"])
    assert NOTE_UNACCENTED in labels["notes"]


def test_unaccented_collisions_and_lone_syllables_assign_nothing(clf):
    """Two colliding folded seeds are under the three-seed rule; a folded lone syllable is never a seed."""
    found = clf._folded.find("", clf._view("\n".join(MARKET_BARE))[0])
    assert set(found.get("bien_dao", [])) == {"bien dong", "hai quan"}
    assert "bien_dao" not in [t["id"] for t in clf.predict(*MARKET_BARE)]
    lone = ("Bien bien bien", "Bien Quang Ngai bien dep, bien xanh, bien lang, bien dao dac, bien gioi thieu o Viet Nam.")
    assert not {"bien_dao", "bien_gioi"} & {t["id"] for t in clf.predict(*lone)}
    assert all(len(p.split()) >= 2 or p.isascii() for ps in clf._folded.canonical.values() for p in ps)


def test_accented_text_keeps_the_accented_seed_matcher(clf):
    """The model's own path is untouched by folding: what the dev figures measure."""
    text = "Tàu Trung Quốc vi phạm chủ quyền Hoàng Sa, Trường Sa trên Biển Đông của Việt Nam."
    low, seeds, anchor = clf._view(text)
    assert seeds is clf._seeds and anchor is clf._anchor and low == low.lower() and "đông" in low


# --- routing ------------------------------------------------------------------------------------------

def test_an_english_border_story_reaches_the_border_guards(enricher, matcher):
    """End to end on the shipped config: English labels -> the bien-dao-bien-gioi rule -> bien-phong."""
    from alerts.routing import route
    from alerts.rules import evaluate_rules
    from haidang.settings import DEFAULT_CONFIG_DIR, load_settings

    settings = load_settings(DEFAULT_CONFIG_DIR, environ={})
    title = "Border guards inspect markers at Quang Ngai's new border gate"
    text = ("Border guards in Quang Ngai province, which took in Kon Tum last year and now borders Laos and "
            "Cambodia, inspected border markers near the Bo Y border gate on Tuesday.")
    url = "https://foreign.example.com/border"
    article = Article(id=article_id(url), fetched=Fetched(source_id="foreign-en", url=url, canonical_url=url),
                      content=Content(title=title, text=text, language="en", first_seen=datetime.now(UTC)))
    article = match_article(article, matcher, "51")
    assert article.relevant
    article.labels = enricher.labels(title, text, matches=article.matches, target="51")
    assert "bien_gioi" in [t["id"] for t in article.labels["topics"]]
    source = next(s for s in settings.sources if s.kind == "foreign_press")
    matches = {m.rule.name: m for m in evaluate_rules(article, settings.alert_rules, source=source,
                                                      now=datetime.now(UTC))}
    flag = route(matches["bien-dao-bien-gioi"], settings.agencies, article)
    assert "bien-phong" in flag.agencies and "bien_gioi" in flag.topics
