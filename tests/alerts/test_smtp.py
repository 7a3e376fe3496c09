"""SmtpNotifier against a real aiosmtpd server: what arrives, and how failures are classified."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from alerts_testkit import SmtpServer, free_port

from alerts.smtp import SmtpNotifier
from haidang.errors import PermanentSendError, TransientSendError
from haidang.store.base import OutboxMessage

_SENDER = "haidang@example.vn"


def _msg(recipient: str = "so-tttt@example.vn") -> OutboxMessage:
    return OutboxMessage(key="k1", flag_rule="r", story_id="s", recipient=recipient,
                         message_id="<k1@haidang.local>", subject="[Hải Đăng][cao] Nguy cơ tin sai",
                         text="Nội dung «Quảng Ngãi»", html="<p>Nội dung <mark>Quảng Ngãi</mark></p>")


def _notifier(port: int) -> SmtpNotifier:
    return SmtpNotifier("127.0.0.1", port, "none", sender=_SENDER, timeout_s=5)


def test_sends_multipart_with_stable_headers(smtp_server: SmtpServer) -> None:
    _notifier(smtp_server.port).send(_msg())
    [envelope] = smtp_server.handler.envelopes
    assert envelope.mail_from == _SENDER and envelope.rcpt_tos == ["so-tttt@example.vn"]
    assert isinstance(envelope.content, bytes)
    email = message_from_bytes(envelope.content, policy=policy.default)
    assert isinstance(email, EmailMessage)
    assert email["Message-ID"] == "<k1@haidang.local>"
    assert email["Subject"] == "[Hải Đăng][cao] Nguy cơ tin sai"
    assert email["From"] == _SENDER and email["To"] == "so-tttt@example.vn" and email["Date"]
    assert email.get_content_type() == "multipart/alternative"
    plain, html = email.get_body(("plain",)), email.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().strip() == "Nội dung «Quảng Ngãi»"
    assert html.get_content().strip() == "<p>Nội dung <mark>Quảng Ngãi</mark></p>"


def test_files_arrive_as_attachments_and_a_missing_one_fails_clearly(smtp_server: SmtpServer, tmp_path) -> None:
    docx = tmp_path / "bao-cao-2026-01-01-2026-06-11.docx"
    docx.write_bytes(b"PK\x03\x04 word")
    xlsx = docx.with_suffix(".xlsx")
    xlsx.write_bytes(b"PK\x03\x04 excel")
    msg = _msg()
    msg.attachments = [str(docx), str(xlsx)]
    _notifier(smtp_server.port).send(msg)
    email = message_from_bytes(smtp_server.handler.envelopes[0].content, policy=policy.default)
    assert email.get_content_type() == "multipart/mixed"
    plain = email.get_body(("plain",))
    assert plain is not None and plain.get_content().strip() == "Nội dung «Quảng Ngãi»"
    files = {part.get_filename(): (part.get_content_type(), part.get_content()) for part in email.iter_attachments()}
    assert files == {
        docx.name: ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04 word"),
        xlsx.name: ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04 excel")}

    xlsx.unlink()
    docx.unlink()
    with pytest.raises(PermanentSendError, match="cannot attach") as failed:
        _notifier(smtp_server.port).send(msg)
    assert str(docx) in str(failed.value) and str(xlsx) in str(failed.value)      # every missing file named
    assert len(smtp_server.handler.envelopes) == 1     # nothing half-sent


def test_connection_refused_is_transient() -> None:
    with pytest.raises(TransientSendError, match="cannot reach"):
        _notifier(free_port()).send(_msg())


def test_5xx_recipient_is_permanent(smtp_server: SmtpServer) -> None:
    smtp_server.reject("ghost@example.vn", "550 5.1.1 No such user")
    with pytest.raises(PermanentSendError, match="550"):
        _notifier(smtp_server.port).send(_msg("ghost@example.vn"))
    assert smtp_server.handler.envelopes == []


def test_4xx_recipient_is_transient(smtp_server: SmtpServer) -> None:
    smtp_server.reject("busy@example.vn", "451 4.3.0 Try again later")
    with pytest.raises(TransientSendError, match="451"):
        _notifier(smtp_server.port).send(_msg("busy@example.vn"))


def test_repr_hides_the_password() -> None:
    notifier = SmtpNotifier("smtp.example.vn", 587, "starttls", "user", "s3cret", sender=_SENDER)
    assert "s3cret" not in repr(notifier)


def test_a_sender_with_a_vietnamese_name_reaches_a_server_without_smtputf8(smtp_server: SmtpServer) -> None:
    """The office's name stays in From (encoded); the envelope carries the bare address, so a
    server that does not offer SMTPUTF8 (aiosmtpd's default, like most) accepts the message."""
    sender = "Sở TT&TT Quảng Ngãi <haidang@example.gov.vn>"
    SmtpNotifier("127.0.0.1", smtp_server.port, "none", sender=sender, timeout_s=5).send(_msg())
    [envelope] = smtp_server.handler.envelopes
    assert envelope.mail_from == "haidang@example.gov.vn"
    assert isinstance(envelope.content, bytes)
    raw_from = next(line for line in envelope.content.split(b"\r\n") if line.startswith(b"From:"))
    assert raw_from.isascii()                                    # RFC 2047-encoded on the wire
    email = message_from_bytes(envelope.content, policy=policy.default)
    assert email["From"] == sender


def test_a_sender_without_an_address_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="no email address"):
        SmtpNotifier("127.0.0.1", 25, "none", sender="Sở TT&TT Quảng Ngãi")


@pytest.mark.parametrize("subject", [
    "[thấp] Nguồn tin ngừng cập nhật: Công an tỉnh Quảng Ngãi (fixture)",
    "[Hải Đăng] Nhắc việc: cờ báo chưa được xử lý sau 24 giờ — NÓNG: Lý Sơn có người lạ bắt cóc trẻ em!!!",
    "[Hải Đăng][cao] Tin cần chú ý — Đầu tư, thương mại — Báo Quảng Ngãi — Đài Phát thanh - Truyền hình",
])
def test_a_long_vietnamese_subject_arrives_exactly(smtp_server: SmtpServer, subject: str) -> None:
    """Python 3.11's header folding dropped spaces between encoded words ("nhật:Công")."""
    msg = _msg()
    msg.subject = subject
    _notifier(smtp_server.port).send(msg)
    [envelope] = smtp_server.handler.envelopes
    assert isinstance(envelope.content, bytes)
    assert all(len(line) <= 78 for line in envelope.content.split(b"\r\n")[:12])
    assert message_from_bytes(envelope.content, policy=policy.default)["Subject"] == subject
