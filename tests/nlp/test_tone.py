"""Tone toward a province with the shipped model: scope, evidence, English via VADER, bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from haidang.record import Span
from haidang.textnorm import normalize
from nlp.tone import LABELS, NOTES, ToneClassifier, load_lexicon, province_passages, train_tone


@pytest.fixture(scope="module")
def tone() -> ToneClassifier:
    return ToneClassifier.load()


def spans_of(name: str, text: str, title: str = "") -> list[Span]:
    """Every occurrence of `name`, as the matcher would give them (offsets into normalised fields)."""
    out = []
    for field_name, value in (("title", normalize(title)), ("text", normalize(text))):
        start = value.find(name)
        while start >= 0:
            out.append(Span(field=field_name, start=start, end=start + len(name)))
            start = value.find(name, start + 1)
    return out


POSITIVE = ("Tỉnh Quảng Ngãi vừa được Chính phủ tặng bằng khen vì thành tích xuất sắc trong phát triển kinh tế. "
            "Năm qua, tốc độ tăng trưởng của Quảng Ngãi đạt kỷ lục, thu hút hàng chục dự án đầu tư mới. "
            "Lễ khánh thành nhà máy diễn ra trong không khí phấn khởi.")
NEGATIVE = ("Công an tỉnh Quảng Ngãi vừa khởi tố vụ án giết người, cướp tài sản xảy ra đêm qua. "
            "Hai đối tượng đã dùng dao đâm chết một người dân rồi cướp xe máy bỏ trốn. "
            "Cơ quan điều tra đang truy bắt các nghi phạm.")
# Good news for Đà Nẵng, bad news for Quảng Ngãi, in one article.
MIXED = ("Đà Nẵng vừa khánh thành cây cầu mới hiện đại, thu hút đông đảo du khách và được khen ngợi là "
         "công trình thành công nhất năm. Thành phố đạt tăng trưởng kỷ lục, doanh nghiệp phấn khởi, lễ hội "
         "pháo hoa quốc tế thành công rực rỡ. Đà Nẵng cũng được tặng bằng khen vì thành tích xuất sắc.\n"
         "Trong khi đó, tại Quảng Ngãi, lũ quét làm 5 người chết và mất tích, hàng trăm ngôi nhà bị sập, thiệt hại "
         "hàng chục tỷ đồng.")


def test_result_shape(tone: ToneClassifier) -> None:
    out = tone.predict("", POSITIVE, spans_of("Quảng Ngãi", POSITIVE), "vi")
    assert set(out) == {"label", "score", "evidence", "scope", "notes"}
    assert out["label"] in LABELS
    assert 0.0 <= out["score"] <= 1.0
    assert out["scope"] == "province"
    assert out["evidence"] and all(isinstance(s, str) and s in POSITIVE for s in out["evidence"])
    assert all(isinstance(n, str) for n in out["notes"])


def test_deterministic(tone: ToneClassifier) -> None:
    runs = [tone.predict("Tin mới", NEGATIVE, spans_of("Quảng Ngãi", NEGATIVE), "vi") for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]
    assert ToneClassifier.load().predict("Tin mới", NEGATIVE, None, "vi") == tone.predict("Tin mới", NEGATIVE, None, "vi")


def test_positive_passage(tone: ToneClassifier) -> None:
    out = tone.predict("", POSITIVE, spans_of("Quảng Ngãi", POSITIVE), "vi")
    assert out["label"] == "positive"


def test_negative_passage_quotes_the_deciding_sentence(tone: ToneClassifier) -> None:
    out = tone.predict("", NEGATIVE, spans_of("Quảng Ngãi", NEGATIVE), "vi")
    assert out["label"] == "negative"
    assert any("giết người" in s or "đâm chết" in s for s in out["evidence"])


def test_tone_is_judged_on_the_province_passage(tone: ToneClassifier) -> None:
    bad = tone.predict("", MIXED, spans_of("Quảng Ngãi", MIXED), "vi")
    good = tone.predict("", MIXED, spans_of("Đà Nẵng", MIXED), "vi")
    assert bad["label"] == "negative" and bad["scope"] == "province"
    assert all("Quảng Ngãi" in s for s in bad["evidence"])
    assert good["label"] == "positive"
    assert not any("lũ quét" in s for s in good["evidence"])


def test_title_counts_when_it_names_the_province(tone: ToneClassifier) -> None:
    title = "Quảng Ngãi: bắt giữ đối tượng giết người"
    text = "Sáng nay, lực lượng chức năng đã bắt giữ đối tượng gây ra vụ án giết người, cướp tài sản."
    passage, scope = province_passages(title, text, spans_of("Quảng Ngãi", text, title))
    assert scope == "province" and passage == [title]


def test_no_spans_judges_the_whole_text_and_says_so(tone: ToneClassifier) -> None:
    for spans in (None, []):
        out = tone.predict("", NEGATIVE, spans, "vi")
        assert out["scope"] == "whole-text"
        assert NOTES["whole_text"] in out["notes"]
        assert out["label"] == "negative"


def test_english_uses_vader(tone: ToneClassifier) -> None:
    good = ("Quang Ngai province won a national award for its excellent and successful economic growth. "
            "Visitors love the beautiful beaches of Quang Ngai.")
    bad = ("A deadly flood killed five people in Quang Ngai province. "
           "Quang Ngai residents are angry about the terrible damage and the corrupt officials.")
    pos = tone.predict("", good, spans_of("Quang Ngai", good), "en")
    neg = tone.predict("", bad, spans_of("Quang Ngai", bad), None)
    assert pos["label"] == "positive" and neg["label"] == "negative"
    for out in (pos, neg):
        assert NOTES["english"] in out["notes"]
        assert NOTES["vi_model"] not in out["notes"]
        assert out["evidence"]


@pytest.mark.parametrize(("title", "text", "reason"), [
    ("", "", NOTES["too_short"]),
    ("Hà Nội", "Tin vắn.", NOTES["too_short"]),
    ("", "@@@ ### $$$ %%% &&& *** ((( ))) ### @@@ !!! ??? ~~~ +++ === ---", NOTES["unknown_language"]),
    ("", "广东省人民政府今天宣布了新的投资计划，以促进地区经济发展和扩大就业，受到广泛欢迎。", "ngôn ngữ: zh"),
])
def test_bad_input_is_neutral_with_a_reason(tone: ToneClassifier, title: str, text: str, reason: str) -> None:
    out = tone.predict(title, text, None, None)
    assert out["label"] == "neutral"
    assert out["score"] <= 0.5
    assert any(n.startswith(reason) for n in out["notes"])


def test_other_language_given_by_caller(tone: ToneClassifier) -> None:
    text = "Le gouvernement a annoncé une nouvelle politique économique pour la région du delta du Mékong."
    out = tone.predict("", text, None, "fr")
    assert out["label"] == "neutral" and NOTES["language"].format(code="fr") in out["notes"]


def test_spans_out_of_range_do_not_raise(tone: ToneClassifier) -> None:
    out = tone.predict("", POSITIVE, [Span(field="text", start=10_000, end=10_010)], "vi")
    assert out["label"] in LABELS and out["scope"] == "whole-text"


def test_lexicon_terms_are_normalised_and_signed() -> None:
    lexicon = load_lexicon()
    assert lexicon["tham nhũng"] == -1 and lexicon["thành công"] == 1
    assert all(v in (-1, 1) for v in lexicon.values())
    assert all(k == normalize(k).lower() for k in lexicon)


def test_train_is_reproducible_on_a_tiny_split(tmp_path: Path) -> None:
    docs = []
    for i in range(30):
        tone_label, text = [("positive", POSITIVE), ("negative", NEGATIVE),
                             ("neutral", "Tỉnh Quảng Ngãi tổ chức họp báo thường kỳ về kế hoạch năm tới.")][i % 3]
        docs.append({"id": str(i), "text": f"{text} Bài số {i}.", "main_province": "Quảng Ngãi", "tone": tone_label})
    for split in ("train", "dev"):
        with gzip.open(tmp_path / f"{split}.jsonl.gz", "wt", encoding="utf-8") as fh:
            fh.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in docs)
    first = train_tone(tmp_path, models_dir=tmp_path / "a")
    second = train_tone(tmp_path, models_dir=tmp_path / "b")
    assert first["dev"] == second["dev"] and first["dev"]["documents"] == 30
    card = (tmp_path / "a" / "tone.md").read_text(encoding="utf-8")
    assert "UIT-VSFC was NOT used" in card and "MIT" in card
    clf = ToneClassifier.load(tmp_path / "a")
    assert clf.predict("", NEGATIVE, None, "vi")["label"] == "negative"


def test_fast_path_matches_sklearn(tone: ToneClassifier) -> None:
    """predict scores with its own linear algebra; it must agree with the fitted sklearn objects."""
    import numpy as np

    from nlp.features import syllables

    feats, clf = tone._features, tone._clf
    for text in (POSITIVE, NEGATIVE, MIXED, "Không có gì đáng chú ý ở đây cả, họp báo thường kỳ."):
        text = normalize(text)
        expected = clf.predict_proba(feats.transform([text], [text]))[0]
        assert np.allclose(tone._proba(syllables(text)), expected, atol=1e-6)


def test_english_vietnamese_names_are_not_chat_slang(tone: ToneClassifier) -> None:
    """VADER reads "Ly" as "love you" (+2.6): "Ly Son fishermen hit by water cannon" came out positive."""
    text = ("A fishing boat from Ly Son island in Quang Ngai province was hit by a water cannon near the "
            "Paracel Islands. Two fishermen were slightly injured.")
    out = tone.predict("Fishermen from Vietnam's Ly Son island hit by water cannon", text,
                       spans_of("Quang Ngai", text), "en")
    assert out["label"] == "negative"
