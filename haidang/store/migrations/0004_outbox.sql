-- Hải Đăng SQLite schema, version 4: the email outbox (alerts/outbox.py keeps its state here).
-- One row per flag and recipient; `key` is alerts.flag.flag_key(rule, story_id, recipient), so
-- queueing the same flag again inserts nothing. `message_id` is fixed at queueing time, so a
-- resend after a crash carries the same Message-ID and the receiving side can tell.
-- Times use the same fixed-width UTC ISO format as the other tables (text order = time order).
CREATE TABLE outbox (
    key             TEXT PRIMARY KEY,
    flag_rule       TEXT NOT NULL,
    story_id        TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,
    subject         TEXT NOT NULL,
    text            TEXT NOT NULL,
    html            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
-- due_messages: pending rows whose next attempt has come, earliest first.
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
