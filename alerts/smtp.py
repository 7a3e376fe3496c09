"""SmtpNotifier: delivers one outbox message over SMTP and says whether a failure is worth retrying."""

from __future__ import annotations

import mimetypes
import smtplib
import ssl
from datetime import UTC, datetime
from email.header import Header
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Literal

from haidang.errors import DeliveryUncertain, PermanentSendError, ServerUnavailable, TransientSendError
from haidang.store.base import OutboxMessage

__all__ = ["Security", "SmtpNotifier", "build_email", "envelope_address"]

Security = Literal["starttls", "tls", "none"]


class _Policy(EmailPolicy):
    """The default email policy, with the Subject kept as given and folded by `email.header.Header`.

    Python 3.11's folding of unstructured headers drops the space between two encoded words
    (CPython gh-144156): "cập nhật: Công an" arrived as "cập nhật:Công an" in 38 of 65 of our real
    subjects. Header's RFC 2047 encoder keeps every character; other headers are folded as usual.

    Kept as given: the default policy decodes RFC 2047 encoded words found in a value it is handed,
    so an article title reading "=?utf-8?b?4oCu...?=" arrived as the characters it encodes (a
    right-to-left override, control characters) that alerts.render had removed. The Subject is stored
    as the text it is and, when it holds non-ASCII or "=?", sent wholly encoded, so a mail client
    decodes it once, back to that text.
    """

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        if name.lower() != "subject" or not isinstance(value, str):
            return super().header_store_parse(name, value)
        if len(value.splitlines()) > 1:       # as the default policy: a header stays one header
            raise ValueError("Header values may not contain linefeed or carriage return characters")
        return name, value

    def _subject(self, name: str, value: Any) -> str | None:
        text = str(value)
        if name.lower() != "subject" or (text.isascii() and "=?" not in text):
            return None
        return f"{name}: " + Header(text, "utf-8", header_name=name).encode(linesep=self.linesep) + self.linesep

    def fold(self, name: str, value: Any) -> str:
        return self._subject(name, value) or super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        folded = self._subject(name, value)
        return folded.encode("ascii") if folded else super().fold_binary(name, value)


_POLICY = _Policy()


def build_email(msg: OutboxMessage, sender: str, *, date: datetime | None = None) -> EmailMessage:
    """multipart/alternative (text, then HTML) carrying the message's own stable Message-ID,
    inside multipart/mixed with the message's files when it has any.

    The Message-ID is the one stored when the flag was queued, never a fresh one, so a message
    resent after a crash between "accepted" and "marked sent" is recognisable as the same one.
    """
    email = EmailMessage(policy=_POLICY)
    email["Subject"] = msg.subject
    email["From"] = sender
    email["To"] = msg.recipient
    email["Date"] = format_datetime(date or datetime.now(UTC))
    email["Message-ID"] = msg.message_id
    email.set_content(msg.text)
    email.add_alternative(msg.html, subtype="html")
    files: list[tuple[Path, bytes]] = []
    missing: list[str] = []
    for name in msg.attachments:
        path = Path(name)
        try:
            files.append((path, path.read_bytes()))
        except OSError as exc:
            missing.append(f"{path} ({exc.strerror or exc})")
    if missing:
        # Sending it without the files would lose what the message is for; a person regenerates
        # them (all named at once) and puts the message back (`haidang outbox retry KEY`).
        raise PermanentSendError(f"cannot attach to {msg.key}: {'; '.join(missing)}")
    for path, data in files:
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, subtype = kind.split("/", 1)
        email.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name)
    return email


def envelope_address(sender: str) -> str:
    """The bare address of a From value such as "Sở TT&TT Quảng Ngãi <haidang@example.gov.vn>".

    The SMTP envelope takes the address alone: with the display name in it, smtplib would ask
    for SMTPUTF8 (which most servers do not offer) or send a malformed MAIL FROM. The name stays
    in the From header, where the email library encodes it.
    """
    address = parseaddr(sender)[1]
    if "@" not in address:
        raise ValueError(f"sender {sender!r} has no email address (write it as Name <user@domain> or user@domain)")
    return address


class _Tracked:
    """Notes when the whole message has been handed to the server (the body ending "CRLF.CRLF",
    which `smtplib.SMTP.data` sends in one piece): a failure after that point is ambiguous.

    From then on it waits `reply_timeout_s` for the answer. RFC 5321 (4.5.3.2.6) asks a client to
    wait up to 10 minutes there, because a server may scan the message before it answers; giving
    up sooner is what makes a message that did arrive look lost, and then arrive again.
    """

    message_handed_over = False
    reply_timeout_s: float | None = None

    def send(self, s: Any) -> None:       # bytes or str, as smtplib.SMTP.send takes
        super().send(s)                    # type: ignore[misc]
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.message_handed_over = True
            sock = getattr(self, "sock", None)
            if sock is not None and self.reply_timeout_s is not None:
                sock.settimeout(self.reply_timeout_s)


class _Smtp(_Tracked, smtplib.SMTP):
    """A plain or STARTTLS connection that notes when the message was handed over."""


class _SmtpSsl(_Tracked, smtplib.SMTP_SSL):
    """An implicit-TLS connection that notes when the message was handed over."""


def _by_code(code: int, what: str) -> TransientSendError | PermanentSendError:
    """RFC 5321: 4xx means try again later, 5xx means this will never work as it is."""
    if 400 <= code < 500:
        return TransientSendError(what)
    return PermanentSendError(what)


class SmtpNotifier:
    """Sends outbox messages through one SMTP server; one connection per message.

    Credentials are given by the caller (who reads them from the environment); this class never
    reads files or the environment. Every failure leaves as TransientSendError (connection
    refused, timeout, 4xx, authentication: fixable without changing the message) or
    PermanentSendError (5xx, the recipient refused for good).

    One case is ambiguous (RFC 1047): the connection drops, or the reply times out, after the
    whole message was sent and before the server answered it. The server may have kept it, so
    it is reported as DeliveryUncertain: the outbox sends it once more with the same
    Message-ID (never lost, but a recipient may get it twice) and stops after a second such
    silence. The answer to the message's end is awaited `reply_timeout_s` (at least
    `timeout_s`), so a slow server is not mistaken for a silent one; keep it under the outbox
    lease (5 minutes by default). Once the server accepted the message, nothing in the closing
    QUIT exchange can turn the send into a failure.
    """

    def __init__(self, host: str, port: int, security: Security = "starttls", username: str | None = None,
                 password: str | None = None, *, sender: str, timeout_s: float = 30.0,
                 reply_timeout_s: float = 180.0) -> None:
        if security not in ("starttls", "tls", "none"):
            raise ValueError(f"security must be starttls, tls or none, not {security!r}")
        self.host, self.port, self.security = host, port, security
        self.username, self._password = username, password
        self.sender, self.timeout_s = sender, timeout_s
        self.reply_timeout_s = max(timeout_s, reply_timeout_s)
        self.envelope_sender = envelope_address(sender)

    def __repr__(self) -> str:     # never show the password in logs or tracebacks
        return f"SmtpNotifier({self.host}:{self.port}, {self.security}, sender={self.sender!r})"

    def _connect(self) -> smtplib.SMTP:
        conn: _Smtp | _SmtpSsl
        if self.security == "tls":
            conn = _SmtpSsl(self.host, self.port, timeout=self.timeout_s, context=ssl.create_default_context())
            conn.reply_timeout_s = self.reply_timeout_s
            return conn
        conn = _Smtp(self.host, self.port, timeout=self.timeout_s)
        conn.reply_timeout_s = self.reply_timeout_s
        if self.security == "starttls":
            try:
                conn.starttls(context=ssl.create_default_context())
            except BaseException:
                conn.close()
                raise
        return conn

    def send(self, msg: OutboxMessage) -> None:
        """Hand `msg` to the server; returns only when the server accepted it for its recipient."""
        where = f"{self.host}:{self.port}"
        email = build_email(msg, self.sender)
        conn: smtplib.SMTP | None = None
        try:
            conn = self._connect()
            if self.username:
                conn.login(self.username, self._password or "")
            conn.send_message(email, from_addr=self.envelope_sender, to_addrs=[msg.recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = exc.recipients.get(msg.recipient, (550, b"refused"))
            raise _by_code(code, f"{where} refused {msg.recipient}: {code} {_text(reply)}") from exc
        except smtplib.SMTPAuthenticationError as exc:
            # Wrong credentials are a deployment fault: keep the message and retry once fixed.
            raise ServerUnavailable(f"{where} rejected the login of {self.username!r}: {exc.smtp_code} "
                                     f"{_text(exc.smtp_error)} (check the SMTP credentials)") from exc
        except smtplib.SMTPResponseException as exc:      # sender refused, DATA refused, ...
            raise _by_code(exc.smtp_code, f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)} "
                                          f"for {msg.recipient}") from exc
        except smtplib.SMTPNotSupportedError as exc:
            hint = ("the address has non-ASCII characters and the server does not offer SMTPUTF8: "
                    "write the address in ASCII" if "SMTPUTF8" in str(exc) else "check the SMTP security setting")
            raise TransientSendError(f"{where} does not support what we asked ({exc}): {hint}") from exc
        except (TimeoutError, smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            if isinstance(conn, _Tracked) and conn.message_handed_over:
                raise DeliveryUncertain(
                    f"SMTP server {where} took the whole message for {msg.recipient} but gave no answer "
                    f"({type(exc).__name__}: {exc}): it may have been delivered; it is sent once more with "
                    f"the same Message-ID {msg.message_id}, so the recipient may see it twice") from exc
            raise ServerUnavailable(f"cannot reach SMTP server {where}: {type(exc).__name__}: {exc}") from exc
        finally:
            if conn is not None:
                _close(conn)


def _close(conn: smtplib.SMTP) -> None:
    """Say QUIT and hang up; whatever the server answers, or if it is already gone, changes nothing.
    (smtplib's `with` raises on a QUIT reply other than 221: after the message was accepted, that
    marked a delivered message failed on a 5xx, or sent it again on a 4xx.)"""
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        conn.close()


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
