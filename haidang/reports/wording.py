"""Every Vietnamese word the deadline reports show: headings, column names, label names.

Kept in one place, as the alert emails keep theirs in templates, so an office can reword a
report without touching the code that counts.
"""

from __future__ import annotations

from haidang import wording as shared

__all__ = ["CHART", "COLUMNS", "DELIVERY", "HEADINGS", "KINDS", "LANGUAGES", "MISSING_ARTICLE", "NOTES", "NO_TOPIC",
           "SHEETS", "SUMMARY", "TIMING", "TONES", "UNKNOWN"]

UNKNOWN = "(không rõ)"
NO_TOPIC = f"({shared.NO_TOPIC})"
# A flag whose article is no longer in the store (removed by retention or by hand).
MISSING_ARTICLE = "(bài viết không còn trong kho dữ liệu)"
# An alert rule in the tables is its description from config/alerts.yaml (haidang.wording.rule_name).


def _capital(words: dict[str, str]) -> dict[str, str]:
    """The shared names (haidang.wording) as a table cell starts them: "Tiếng Việt", "Trung tính"."""
    return {key: shared.capital(value) for key, value in words.items()}


TONES = _capital(shared.TONES)
KINDS = _capital(shared.KINDS)
LANGUAGES = _capital(shared.LANGUAGES)

HEADINGS = {
    "title": "BÁO CÁO KẾT QUẢ THEO DÕI THÔNG TIN ĐỐI NGOẠI",
    "subtitle": "Tỉnh {province}: từ ngày {start} đến ngày {end}",
    "generated": "Lập ngày {when} bởi hệ thống Hải Đăng (số liệu tự động, cần rà soát trước khi gửi).",
    "summary": "1. Tổng quan",
    "volume": "2. Số lượng tin, bài theo thời gian",
    "topic": "2.1. Theo chủ đề của kế hoạch",
    "tone": "2.2. Theo sắc thái đối với tỉnh",
    "kind": "2.3. Theo loại nguồn",
    "language": "2.4. Theo ngôn ngữ",
    "foreign": "3. Báo chí nước ngoài viết về tỉnh",
    "flags": "4. Cảnh báo đã phát",
    "digest": "5. Tin đưa vào bản tin để theo dõi",
    "actions": "6. Hành động xử lý",
    "actions_type": "6.1. Theo loại hành động",
    "actions_agency": "6.2. Theo cơ quan",
    "actions_list": "6.3. Danh sách hành động",
    "resurfaced": "6.4. Tin tái xuất hiện sau khi đã xử lý",
    "timing": "7. Thời gian phản ứng",
    "open": "8. Việc còn tồn đọng (cảnh báo chưa có hành động xử lý)",
}
SUMMARY = {
    "total": "Tổng số tin, bài về tỉnh",
    "foreign": "Tin, bài trên báo chí nước ngoài",
    "flags": "Cảnh báo đã phát (mỗi tin tính một lần cho mỗi quy tắc, dù nhiều nguồn cùng đăng)",
    "flag_stories": "– số tin khác nhau đã bị cảnh báo (một tin có thể bị nhiều quy tắc cảnh báo)",
    "flags_sent": "– trong đó đã gửi đến nơi nhận",
    "flags_pending": "– trong đó đang chờ gửi (giờ yên tĩnh hoặc chờ gửi lại)",
    "flags_failed": "– trong đó gửi không thành công",
    "digest": "Tin đưa vào bản tin để theo dõi, không gửi thư cảnh báo (mỗi tin tính một lần cho mỗi quy tắc)",
    "actions": "Hành động xử lý đã ghi nhận",
    "resurfaced": "Tin tái xuất hiện trên nguồn mới sau khi đã xử lý (đã báo lại, không tính là cảnh báo mới)",
    "resurfacing_emails": "Thư báo tin tái xuất hiện (mỗi nguồn mới, mỗi nơi nhận một thư)",
    "open": "Cảnh báo còn tồn đọng",
    "pub_to_flag_median": "Từ khi đăng đến khi phát cảnh báo: trung vị (giờ)",
    "pub_to_flag_p90": "Từ khi đăng đến khi phát cảnh báo: P90 (giờ)",
    "flag_to_action_median": "Từ khi phát cảnh báo đến khi xử lý: trung vị (giờ)",
    "flag_to_action_p90": "Từ khi phát cảnh báo đến khi xử lý: P90 (giờ)",
}
COLUMNS = {
    "group": "Nhóm", "total": "Tổng", "count": "Số lượng", "date": "Ngày", "source": "Nguồn", "title": "Tiêu đề",
    "language": "Ngôn ngữ", "tone": "Sắc thái", "url": "Đường dẫn", "rule": "Quy tắc", "flagged": "Thời điểm cảnh báo",
    "published": "Thời điểm đăng", "handled": "Đã xử lý", "action": "Hành động", "agency": "Cơ quan",
    "actor": "Người ghi nhận", "note": "Ghi chú", "measure": "Chỉ số", "cases": "Số trường hợp",
    "median": "Trung vị (giờ)", "p90": "P90 (giờ)", "age": "Tồn đọng (ngày)", "recipients": "Nơi nhận",
    "value": "Giá trị", "yes": "Có", "no": "Chưa", "period": "Kỳ", "delivery": "Tình trạng gửi",
    "rebuttal": "bài phản bác: {url}",
    "reappeared": "Thời điểm xuất hiện lại", "new_source": "Nguồn mới", "earlier": "Xử lý trước đó",
}
# A flag's delivery (report.ReportFlag.delivery); "partial" follows "sent" when some recipients wait.
DELIVERY = {"sent": "Đã gửi", "pending": "Chờ gửi", "failed": "Gửi không thành công",
            "partial": "{sent}/{total} nơi nhận"}
TIMING = {"pub_to_flag": "Từ khi đăng đến khi phát cảnh báo", "flag_to_action": "Từ khi phát cảnh báo đến khi xử lý"}
NOTES = {
    "topics": "Một bài có thể thuộc nhiều chủ đề nên tổng theo chủ đề có thể lớn hơn tổng số bài.",
    "bucket_week": "Mỗi cột là một tuần (từ thứ Hai).",
    "bucket_month": "Mỗi cột là một tháng.",
    "none": "Không có.",
    "more": "… và {n} mục khác (xem bản Excel).",
    "p90": "P90: 90% số trường hợp nhanh hơn hoặc bằng giá trị này.",
    # Section 5: what the rules with `immediate: false` raised (report.ReportDigestItem).
    "digest": ("Các tin dưới đây do quy tắc chỉ đưa vào bản tin hằng ngày (không gửi thư cảnh báo) nêu ra, nên "
               "không có yêu cầu về thời gian xử lý và không được tính vào số cảnh báo đã phát, thời gian phản ứng "
               "hay việc tồn đọng. Mỗi tin tính một lần cho mỗi quy tắc, dù nhiều nguồn cùng đăng; một tin có thể "
               "đồng thời có cảnh báo theo quy tắc khác. Ngày là ngày tin được đăng, hoặc ngày hệ thống phát hiện "
               "tin nếu muộn hơn."),
    # Section 6.4: stories back on a new outlet after being handled (report.ReportResurfacing).
    "resurfaced": ("Các tin dưới đây đã có hành động xử lý, sau đó xuất hiện trên một nguồn chưa đăng tin này vào "
                   "thời điểm xử lý; hệ thống đã gửi thư «Tái xuất hiện sau khi đã xử lý» cho nơi nhận cảnh báo ban "
                   "đầu. Mỗi dòng là một nguồn mới. Không tính là cảnh báo mới: không có trong số cảnh báo đã phát, "
                   "thời gian phản ứng hay việc tồn đọng. Thời điểm là lúc hệ thống phát hiện bài trên nguồn mới."),
}
SHEETS = {"summary": "Tổng quan", "topic": "Theo chủ đề", "tone": "Theo sắc thái", "kind": "Theo loại nguồn",
          "language": "Theo ngôn ngữ", "foreign": "Báo chí nước ngoài", "flags": "Cảnh báo",
          "digest": "Tin đưa vào bản tin", "actions": "Hành động", "resurfaced": "Tái xuất hiện",
          "timing": "Thời gian phản ứng", "open": "Tồn đọng"}
CHART = {"ylabel": "Số tin, bài", "other": "Khác", "empty": "Không có dữ liệu"}
