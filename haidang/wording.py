"""The Vietnamese words for stored values, shared by every place a reader sees them.

Emails, the digest, the web pages, the reports and `haidang explain` describe the same article:
they must call a neutral tone, a platform source or a missing topic by the same name. Each
surface keeps its own headings (alerts/templates, haidang/reports/wording.py,
haidang/web/wording.py); the names of values live here, lower case as they read mid-sentence
(`capital` when one starts a line, list item or cell). Readers see names, never the stored ids:
`rule_name` and `signal_label` for emails, digest, web pages and reports; `rule_name_with_id` and
`alerts.render.signal_name` forms are for the views analysts use (`haidang explain`, admin emails).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "KINDS",
    "LANGUAGES",
    "NO_TOPIC",
    "SECTIONS",
    "SIGNAL_NAMES",
    "TONES",
    "TRUST",
    "UNKNOWN_KIND",
    "WEEKDAYS",
    "action_name",
    "capital",
    "kind_name",
    "language_name",
    "rule_name",
    "rule_name_with_id",
    "section_name",
    "signal_label",
    "tone_name",
    "trust_name",
    "vn_amount",
    "vn_decimal",
    "vn_number",
    "when",
]

# nlp.tone labels.
TONES = {"positive": "tích cực", "neutral": "trung tính", "negative": "tiêu cực"}
# Source kinds (haidang.settings.Source.kind).
KINDS = {
    "national_press": "báo chí trung ương",
    "provincial_press": "báo chí địa phương",
    "government_portal": "cổng thông tin chính quyền",
    "foreign_press": "báo chí nước ngoài",
    "platform": "mạng xã hội / nền tảng",
}
UNKNOWN_KIND = "không rõ loại nguồn"
# Trust the deployment gives a source (config/sources.yaml).
TRUST = {"high": "cao", "medium": "trung bình", "low": "thấp", "unknown": "chưa đánh giá"}
LANGUAGES = {"vi": "tiếng Việt", "en": "tiếng Anh", "zh": "tiếng Trung", "zh-cn": "tiếng Trung", "ko": "tiếng Hàn",
             "ja": "tiếng Nhật", "fr": "tiếng Pháp", "de": "tiếng Đức", "ru": "tiếng Nga", "km": "tiếng Khmer",
             "lo": "tiếng Lào", "th": "tiếng Thái"}
NO_TOPIC = "chưa xác định chủ đề"
# The news sections (nlp.section.SECTIONS, VNTC's classes); "khong_xac_dinh" when not assessed.
SECTIONS = {
    "chinh_tri_xa_hoi": "chính trị – xã hội", "doi_song": "đời sống", "khoa_hoc": "khoa học",
    "kinh_doanh": "kinh doanh", "phap_luat": "pháp luật", "suc_khoe": "sức khỏe", "the_gioi": "thế giới",
    "the_thao": "thể thao", "van_hoa": "văn hóa", "vi_tinh": "vi tính", "khong_xac_dinh": "không xác định",
}
# Vietnamese names of the risk signals (their ids are fixed: README, "Labels and their reasons").
# Readers see the name alone (`signal_label`); `haidang explain` adds the id for analysts.
SIGNAL_NAMES = {
    "rumour_cue": "Dấu hiệu tin đồn, chưa kiểm chứng",
    "share_appeal": "Kêu gọi chia sẻ gấp",
    "clickbait": "Giật tít, gây sốc",
    "hostile_language": "Ngôn từ thù địch, xúc phạm",
    "official_attribution": "Dẫn nguồn chính thức",
    "source_kind": "Loại nguồn",
    "source_trust": "Độ tin cậy của nguồn",
    "unreliable_text_model": "Mô hình văn bản",
    "known_false_claim": "Trùng thông tin sai đã được xác định",
    "debunk_report": "Bài đưa tin bác bỏ thông tin sai",
    "dismissed_claim": "Giống tin đã được xác định không phải tin sai",
    "engagement": "Mức lan truyền (lượt thích, bình luận, chia sẻ)",
    "text_not_assessed": "Chưa đánh giá được văn bản",
}
WEEKDAYS = ("Thứ hai", "Thứ ba", "Thứ tư", "Thứ năm", "Thứ sáu", "Thứ bảy", "Chủ nhật")

_VN_SEPARATORS = str.maketrans({",": ".", ".": ","})


def when(moment: datetime | None, tz: str = "Asia/Ho_Chi_Minh") -> str:
    """"Thứ ba, 28/03/2023 08:26" in `tz`, as the emails write it; "không rõ thời gian" for None."""
    if moment is None:
        return "không rõ thời gian"
    local = moment.astimezone(ZoneInfo(tz))
    return f"{WEEKDAYS[local.weekday()]}, {local:%d/%m/%Y %H:%M}"


def capital(text: Any) -> str:
    """A name as it starts a line, a list item or a table cell: "Tích cực", "Báo chí địa phương"."""
    value = str(text)
    return value[:1].upper() + value[1:]


def action_name(kind: Any) -> str:
    """An officer's recorded action as it reads mid-sentence: "đã phản bác", "không phải tin sai"
    (haidang.store.base.ACTION_NAMES, lower case); an unknown kind as stored."""
    from haidang.store.base import ACTION_NAMES  # here: store.base imports record, which imports this module

    name = ACTION_NAMES.get(str(kind))
    return name[:1].lower() + name[1:] if name else str(kind)


def signal_label(signal: Any) -> str:
    """A risk signal as readers see it: its Vietnamese name; an unknown id is shown as stored."""
    return SIGNAL_NAMES.get(str(signal), str(signal))


def section_name(label: Any) -> str:
    return SECTIONS.get(str(label), str(label)) if label else SECTIONS["khong_xac_dinh"]


def tone_name(label: Any) -> str:
    return TONES.get(str(label), str(label)) if label else "không rõ"


def kind_name(kind: Any) -> str:
    return KINDS.get(str(kind), UNKNOWN_KIND) if kind else UNKNOWN_KIND


def trust_name(trust: Any) -> str:
    return TRUST.get(str(trust or "unknown"), str(trust))


def language_name(code: Any) -> str:
    return LANGUAGES.get(str(code).lower(), str(code)) if code else "không rõ ngôn ngữ"


def vn_number(value: float, decimals: int = 1) -> str:
    """A number as Vietnamese text writes it: dots group thousands, a comma marks decimals
    ("1.203", "6.189,8"). Integers keep no decimals; other numbers keep `decimals`."""
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.{decimals}f}"
    return text.translate(_VN_SEPARATORS)


def vn_amount(value: Any) -> str:
    """An amount (hours, factors) in Vietnamese style: whole numbers without decimals ("24"), others
    with up to two ("0,07", "1,5"); the value as text if it is not a number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number.is_integer():
        return vn_number(int(number))
    whole, _, fraction = vn_number(number, 2).partition(",")
    fraction = fraction.rstrip("0")
    return f"{whole},{fraction}" if fraction else whole


def rule_name(name: Any, description: str | None) -> str:
    """An alert rule as readers (agencies, the office head) see it: its Vietnamese description from
    config/alerts.yaml; the name alone only for a rule that has none."""
    return str(description) if description else str(name)


def rule_name_with_id(name: Any, description: str | None) -> str:
    """"Vietnamese description (name)", for the views analysts and administrators use."""
    return f"{description} ({name})" if description else str(name)


def vn_decimal(value: Any, decimals: int = 2) -> str:
    """A score or probability in Vietnamese style ("0,96"); the value as text if it is not a number."""
    try:
        return vn_number(float(value), decimals)
    except (TypeError, ValueError):
        return str(value)
