"""One name per stored value on every surface: emails, digest, web, reports (haidang.wording)."""

from __future__ import annotations

from haidang import wording
from haidang.reports import wording as report_words
from haidang.web import wording as web_words


def test_tone_names_cover_the_classifier_labels_and_every_surface_uses_them() -> None:
    from nlp.tone import LABELS

    assert sorted(wording.TONES) == sorted(LABELS)
    assert web_words.TONES == wording.TONES
    assert {k: v.lower() for k, v in report_words.TONES.items()} == wording.TONES
    assert report_words.LANGUAGES["vi"] == "Tiếng Việt"       # capitalised at the start only


def test_the_alert_templates_read_the_shared_names() -> None:
    from alerts.render import environment

    env = environment()
    assert env.globals["TONES"] is wording.TONES
    common = env.get_template("_common.j2").module
    assert common.kind("platform") == wording.KINDS["platform"]       # type: ignore[attr-defined]
    assert common.kind(None) == wording.UNKNOWN_KIND                   # type: ignore[attr-defined]


def test_numbers_are_written_the_vietnamese_way() -> None:
    assert wording.vn_number(1203) == "1.203"
    assert wording.vn_number(6189.84) == "6.189,8"
    assert wording.vn_decimal(0.9571) == "0,96"
    assert wording.vn_decimal("n/a") == "n/a"
    assert wording.tone_name("neutral") == "trung tính" and wording.tone_name(None) == "không rõ"
    assert wording.language_name("EN") == "tiếng Anh" and wording.trust_name("low") == "thấp"
