-- Hải Đăng SQLite schema, version 11: files sent with an outbox message (the yearly report's
-- .docx and .xlsx), as a JSON list of absolute paths. The files stay on disk and are read when
-- the message is sent, so the outbox never holds their bodies. Older rows carry none.
ALTER TABLE outbox ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';
