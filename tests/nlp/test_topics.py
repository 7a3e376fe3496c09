"""TopicClassifier on the shipped model file and config/topics.yaml validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from haidang.errors import ConfigError
from nlp.topics import DEFAULT_TOPICS_PATH, TOPIC_IDS, TopicClassifier, load_topic_config, topic_seeds

SEA = ("Phản đối Trung Quốc vi phạm chủ quyền Hoàng Sa",
       ("Người phát ngôn Bộ Ngoại giao khẳng định Việt Nam có đủ cơ sở pháp lý và chứng cứ lịch sử khẳng định "
       "chủ quyền đối với hai quần đảo Hoàng Sa và Trường Sa trên Biển Đông. Việc tàu Trung Quốc bắt giữ ngư "
       "dân Quảng Ngãi đánh cá tại vùng biển Hoàng Sa là vi phạm nghiêm trọng chủ quyền của Việt Nam."))
INVEST = ("Bình Dương thu hút 500 triệu USD vốn đầu tư nước ngoài",
          ("Trong 6 tháng đầu năm, tỉnh đã cấp giấy phép đầu tư cho 45 dự án FDI với tổng vốn đầu tư 500 triệu "
          "USD, chủ yếu vào khu công nghiệp. Kim ngạch xuất khẩu tăng 20%. Các nhà đầu tư Hàn Quốc, Nhật Bản "
          "đánh giá cao môi trường đầu tư và xúc tiến thương mại của tỉnh."))


@pytest.fixture(scope="module")
def config() -> dict:
    return load_topic_config(DEFAULT_TOPICS_PATH)


@pytest.fixture(scope="module")
def clf(config: dict) -> TopicClassifier:
    return TopicClassifier.load(topic_seeds(config))


def test_config_shape(config: dict) -> None:
    assert list(config) == list(TOPIC_IDS)
    for entry in config.values():
        assert entry["name"] and entry["seeds"]


def test_shape_and_order(clf: TopicClassifier) -> None:
    out = clf.predict(*INVEST)
    assert out, "an investment article gets at least one topic"
    for item in out:
        assert set(item) == {"id", "score", "evidence"}
        assert item["id"] in TOPIC_IDS
        assert 0.0 <= item["score"] <= 1.0
        assert isinstance(item["evidence"], list) and item["evidence"]
    assert [i["score"] for i in out] == sorted((i["score"] for i in out), reverse=True)


def test_sea_sovereignty(clf: TopicClassifier) -> None:
    out = {item["id"]: item for item in clf.predict(*SEA)}
    assert "bien_dao" in out
    assert {"hoàng sa", "biển đông"} & set(out["bien_dao"]["evidence"])


def test_investment(clf: TopicClassifier) -> None:
    ids = [item["id"] for item in clf.predict(*INVEST)]
    assert "dau_tu_thuong_mai" in ids


def test_deterministic(clf: TopicClassifier, config: dict) -> None:
    assert clf.predict(*SEA) == clf.predict(*SEA)
    assert TopicClassifier.load(topic_seeds(config)).predict(*INVEST) == clf.predict(*INVEST)


@pytest.mark.parametrize("title,text", [("", ""), ("", "  \n"), ("a", "b"), ("", "%%%% ### !!!"),
                                        ("", "\x00\x01\ufffd" * 50), ("", "xq zzv qqq wkp")])
def test_bad_input_no_topics(clf: TopicClassifier, title: str, text: str) -> None:
    assert clf.predict(title, text) == []


def test_edited_seeds_give_evidence(config: dict) -> None:
    seeds = topic_seeds(config)
    seeds["kieu_bao"] = ["bà con xa xứ", "về thăm quê hương", "đón tết cổ truyền"]
    clf = TopicClassifier.load(seeds)
    out = {i["id"]: i for i in clf.predict("", "Bà con xa xứ về thăm quê hương Quảng Ngãi, đón Tết cổ truyền cùng "
                                               "gia đình.")}
    assert "kieu_bao" in out
    assert "bà con xa xứ" in out["kieu_bao"]["evidence"]


@pytest.mark.parametrize("body,field", [
    ("topics:\n  bien_dao:\n    name: x\n    seeds: [a]\n", "topics"),                       # nine ids missing
    ("topics: {}\nextra: 1\n", "extra"),                                                    # unknown key
])
def test_config_errors(tmp_path: Path, config: dict, body: str, field: str) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_topic_config(path)
    assert str(path) in str(err.value) and field in str(err.value)


def test_config_misspelt_key_is_refused_and_nfd_read_as_nfc(tmp_path: Path) -> None:
    text = DEFAULT_TOPICS_PATH.read_text(encoding="utf-8")
    bad = tmp_path / "topics.yaml"
    bad.write_text(text.replace("    seeds:\n      - biển đông", "    seed:\n      - biển đông", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="bien_dao"):
        load_topic_config(bad)
    import unicodedata
    bad.write_text(unicodedata.normalize("NFD", text), encoding="utf-8")     # an editor that saves NFD
    assert load_topic_config(bad) == load_topic_config(DEFAULT_TOPICS_PATH)


def test_shipped_yaml_is_nfc() -> None:
    import unicodedata
    text = DEFAULT_TOPICS_PATH.read_text(encoding="utf-8")
    assert unicodedata.normalize("NFC", text) == text


FOREIGN = ("Mỹ công bố dự thảo nghị quyết mới về Iraq",
           ("Đại sứ Mỹ tại Liên Hợp Quốc trình Hội đồng Bảo an dự thảo nghị quyết về chính phủ lâm thời Iraq. "
            "Ngoại trưởng Pháp và Nga hoan nghênh, song đề nghị hội đàm thêm về quyền chỉ huy lực lượng đa quốc gia."))


def test_foreign_news_without_vietnamese_angle_gets_no_topic(clf: TopicClassifier) -> None:
    """The guidelines give foreign news with no Vietnamese angle no topic, seed phrases or not."""
    assert not clf.has_vietnamese_angle(*FOREIGN)
    assert clf.predict(*FOREIGN) == []
    title, text = FOREIGN
    vietnam = text + " Bộ Ngoại giao Việt Nam cho biết Việt Nam ủng hộ vai trò của Liên Hợp Quốc."
    assert clf.has_vietnamese_angle(title, vietnam)
    assert "doi_ngoai" in [item["id"] for item in clf.predict(title, vietnam)]


def test_secondary_topic_needs_a_share_of_the_leading_score(clf: TopicClassifier) -> None:
    """A topic after the leading one needs params["secondary_ratio"] of its rescaled score."""
    import numpy as np

    from nlp.topics import _assign

    assert 0.5 < clf._secondary_ratio < 1.0
    proba, thresholds = np.array([0.9, 0.6, 0.2, 0.7]), np.array([0.5, 0.5, 0.5, 0.25])
    # Rescaled (threshold -> 0.5): 0.9, 0.6, 0.2, 0.8.
    assert _assign(proba, thresholds, 0.7).tolist() == [[True, False, False, True]]
    assert _assign(proba, thresholds, 0.0).tolist() == [[True, True, False, True]]
    assert _assign(np.array([0.3, 0.1, 0.1, 0.2]), thresholds, 0.7).tolist() == [[False] * 4]


AID = ("Quảng Trị ký biên bản ghi nhớ với tổ chức phi chính phủ Nhật Bản",
       ("UBND tỉnh Quảng Trị và một tổ chức phi chính phủ của Nhật Bản vừa ký biên bản ghi nhớ về dự án viện trợ "
        "không hoàn lại 2 triệu USD xây trường học và trạm y tế cho các xã miền núi. Dự án góp phần vun đắp "
        "quan hệ hữu nghị giữa nhân dân hai nước."))


def test_cooperation_and_aid_vocabulary_is_doi_ngoai(clf: TopicClassifier, config: dict) -> None:
    """Aid, NGO and memorandum stories carry no embassy or summit words; their seed phrases name the topic."""
    assert {"biên bản ghi nhớ", "viện trợ", "hữu nghị", "phi chính phủ"} <= set(config["doi_ngoai"]["seeds"])
    out = {item["id"]: item for item in clf.predict(*AID)}
    assert "doi_ngoai" in out
    assert {"biên bản ghi nhớ", "viện trợ", "hữu nghị"} <= set(out["doi_ngoai"]["evidence"])


def test_evidence_prefers_whole_words_to_lone_syllables() -> None:
    """A syllable such as "phí" is half a word; the phrases among the strongest features are quoted first."""
    from nlp.features import quotable_terms

    names = np.array(["phí", "chi_phí", "ở_xã", "quản_lý", "quản", "giao_thông"])
    contrib = np.array([0.9, 0.5, 0.8, 0.4, 0.85, -0.2])
    assert quotable_terms(names, contrib, 2) == ["chi phí", "quản lý"]
    assert quotable_terms(names, contrib, 3) == ["chi phí", "quản lý", "phí"]     # then the strongest left
    assert quotable_terms(names, -contrib, 1) == ["giao thông"]
