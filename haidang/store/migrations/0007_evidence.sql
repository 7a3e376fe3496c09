-- Hải Đăng SQLite schema, version 7: preserved evidence of flagged pages (haidang/evidence/).
-- One row per capture: the page as fetched when its flag was queued (kind 'flag'), and each
-- re-check after a takedown or correction request (kind 'recheck', with its outcome). `html` is
-- the response body exactly as received, gzip-compressed; `sha256` is the hash of those bytes
-- before compression. Rows are evidence: triggers refuse UPDATE and DELETE, like the audit log.
-- Times use the fixed-width UTC ISO format of the other tables (text order = time order).
CREATE TABLE evidence (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id   TEXT NOT NULL,
    url          TEXT NOT NULL,
    fetched_at   TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    html_gz      BLOB NOT NULL,
    text         TEXT NOT NULL,
    status_code  INTEGER,
    kind         TEXT NOT NULL CHECK (kind IN ('flag', 'recheck')),
    outcome      TEXT CHECK (outcome IN ('captured', 'unchanged', 'changed', 'gone', 'unreachable')),
    content_type TEXT,
    note         TEXT
);
CREATE INDEX evidence_article ON evidence (article_id, fetched_at);

CREATE TRIGGER evidence_no_update BEFORE UPDATE ON evidence
BEGIN
    SELECT RAISE(ABORT, 'evidence is append-only');
END;
CREATE TRIGGER evidence_no_delete BEFORE DELETE ON evidence
BEGIN
    SELECT RAISE(ABORT, 'evidence is append-only');
END;
