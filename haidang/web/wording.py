"""Every Vietnamese word the web pages pick by a stored value: tones, label fields, audit kinds.

Kept in one place, as haidang/reports/wording.py does for the reports, so an office can reword a
page without touching the code that chooses the word.
"""

from __future__ import annotations

from haidang import wording as shared

__all__ = ["AUDIT_DETAILS", "AUDIT_KINDS", "AUDIT_VALUES", "CLAIM_DECIDED", "CLAIM_STATUSES", "FIELDS", "HTTP_ERRORS", "LANGUAGE_ALL", "NONE",
           "NOT_ASSESSED", "NO_TOPIC", "ROLES", "TONES", "UNKNOWN"]

# An empty value that is not a topic (no tone, no province); a missing topic is NO_TOPIC.
NONE = "không có"
UNKNOWN = "không rõ"
# A tone or risk level the models have not given the article.
NOT_ASSESSED = "chưa đánh giá"
NO_TOPIC = shared.NO_TOPIC

# The roles of config/users.yaml (haidang.settings.UserRole), as the page header names them.
ROLES = {"viewer": "xem", "officer": "cán bộ", "administrator": "quản trị"}
# The search form's language choice that filters nothing.
LANGUAGE_ALL = "(tất cả)"

# The tone labels (nlp.tone.LABELS) in the product's shared words.
TONES = shared.TONES

# The known-false-claims list (/tin-sai): the statuses as tabs, and what a decision did.
CLAIM_STATUSES = {"proposed": "Chờ xác nhận", "confirmed": "Tin sai đã xác nhận", "dismissed": "Không phải tin sai"}
CLAIM_DECIDED = {"confirmed": "Đã xác nhận là tin sai", "dismissed": "Đã ghi nhận là không phải tin sai"}

# The fields an officer may correct on a flag page (haidang.web.respond.record_correction).
FIELDS = {"topic": "Chủ đề", "tone": "Sắc thái", "province": "Tỉnh"}

# Every kind of audit entry the project writes (grep AuditEntry): the store, the web app, alerts, evidence.
AUDIT_KINDS = {
    "login": "Đăng nhập",
    "login_failed": "Đăng nhập sai",
    "login_blocked": "Đăng nhập bị tạm chặn",
    "logout": "Đăng xuất",
    "report": "Tạo báo cáo",
    "action": "Ghi nhận xử lý",
    "claim": "Cập nhật danh sách tin đã xác minh",
    "claim_conflict": "Quyết định trái ngược về tin sai, cần quản trị viên xem xét",
    "label_correction": "Sửa nhãn",
    "evidence": "Lưu bằng chứng",
    "escalation": "Nhắc việc, báo cấp trên",
}

# The keys of audit details, in the order a reader wants them; keys not listed follow, raw.
AUDIT_DETAILS = {
    "action": "Hành động",
    "stage": "Giai đoạn",
    "status": "Trạng thái",
    "requested": "Đề nghị đổi thành",
    "decided_by": "Người đã quyết định",
    "previous": "Trạng thái trước",
    "via": "Thực hiện từ",
    "reason": "Lý do",
    "window_minutes": "Không ghi riêng từng lượt bị chặn tiếp theo trong (phút)",
    "unlogged": "Số lượt bị chặn trước đó không ghi riêng",
    "outcome": "Kết quả",
    "kind": "Loại",
    "from": "Từ ngày",
    "to": "Đến ngày",
    "format": "Định dạng",
    "note": "Ghi chú",
    "rebuttal_url": "Bài phản bác",
    "url": "Đường dẫn",
    "status_code": "Mã trạng thái HTTP",
    "rule": "Quy tắc",
    "agency_id": "Cơ quan",
    "recipient": "Người nhận",
    "hours": "Số giờ chưa xử lý",
    "flag_sent_at": "Thời điểm gửi cảnh báo",
    "requested_at": "Thời điểm yêu cầu",
    "article_id": "Mã bài viết",
    "story_id": "Mã nhóm tin",
    "flag_key": "Mã cảnh báo",
    "action_id": "Mã hành động",
    "evidence_id": "Mã bằng chứng",
    "key": "Mã thư",
    "sha256": "Mã băm SHA-256",
}

# Stored values of some detail keys (claim status, escalation stage, evidence kind and outcome, why a
# login was blocked).
AUDIT_VALUES = {
    "status": {"confirmed": "tin sai đã xác nhận", "dismissed": "không phải tin sai",
               "proposed": "chờ xác nhận"},
    "requested": {"confirmed": "tin sai đã xác nhận", "dismissed": "không phải tin sai"},
    "previous": {"confirmed": "tin sai đã xác nhận", "dismissed": "không phải tin sai", "proposed": "chờ xác nhận"},
    "via": {"web": "trang Tin sai đã biết", "cli": "dòng lệnh (haidang claims)", "list": "danh sách tin sai",
            "link": "đường dẫn trong thư cảnh báo", "flag": "trang cảnh báo"},
    "reason": {"client": "máy này đăng nhập sai quá nhiều lần",
               "name": "tên đăng nhập bị thử sai nhiều lần và máy này cũng đã thử sai"},
    "stage": {"reminder": "nhắc việc", "escalation": "báo cấp trên"},
    "kind": {"flag": "khi phát cảnh báo", "recheck": "kiểm tra lại"},
    "outcome": {"captured": "đã lưu", "unchanged": "không thay đổi", "changed": "đã thay đổi",
                "gone": "đã bị gỡ", "unreachable": "không truy cập được"},
    "format": {"docx": "Word (.docx)", "xlsx": "Excel (.xlsx)"},
}

# (title, message) of the error pages for HTTP errors the framework raises (an unknown path, a wrong method).
HTTP_ERRORS = {
    400: ("Yêu cầu không hợp lệ", "Trình duyệt đã gửi một yêu cầu không đọc được. Hãy tải lại trang và thử lại."),
    404: ("Không tìm thấy trang", ("Không có trang nào ở địa chỉ này. Hãy kiểm tra lại đường dẫn, hoặc quay về "
                                   "trang tìm kiếm.")),
    405: ("Không thực hiện được", ("Trang này không nhận loại yêu cầu đó. Hãy mở trang từ đường dẫn hoặc nút bấm "
                                   "của Hải Đăng.")),
    413: ("Dữ liệu gửi quá lớn", "Nội dung gửi lên vượt giới hạn cho phép. Hãy rút gọn rồi gửi lại."),
    500: ("Lỗi hệ thống", ("Hải Đăng gặp lỗi khi xử lý yêu cầu; lỗi đã được ghi lại. Hãy thử lại sau ít phút, "
                           "nếu vẫn lỗi hãy báo bộ phận quản trị.")),
}
