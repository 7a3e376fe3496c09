-- Hải Đăng SQLite schema, version 6: officer actions on flags and the append-only audit log.
-- Both tables only ever grow: triggers refuse UPDATE and DELETE, so nothing recorded can be
-- changed afterwards, whatever code runs against the file. Times use the fixed-width UTC ISO
-- format of the other tables (text order = time order).
CREATE TABLE response_actions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    flag_key     TEXT NOT NULL,          -- outbox.key of the flag message the signed link belongs to
    story_id     TEXT NOT NULL,
    article_id   TEXT NOT NULL,
    rule         TEXT NOT NULL,
    action       TEXT NOT NULL CHECK (action IN ('phan_bac', 'de_nghi_cai_chinh', 'de_nghi_go_bo',
                                                 'chuyen_cong_an', 'tang_cuong_thong_tin',
                                                 'khong_phai_tin_sai')),
    actor        TEXT NOT NULL,
    agency_id    TEXT,
    note         TEXT,
    rebuttal_url TEXT,
    client       TEXT,
    at           TEXT NOT NULL
);
CREATE INDEX response_actions_at ON response_actions (at);
CREATE INDEX response_actions_story ON response_actions (story_id, at);

CREATE TRIGGER response_actions_no_update BEFORE UPDATE ON response_actions
BEGIN
    SELECT RAISE(ABORT, 'response_actions is append-only');
END;
CREATE TRIGGER response_actions_no_delete BEFORE DELETE ON response_actions
BEGIN
    SELECT RAISE(ABORT, 'response_actions is append-only');
END;

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    kind    TEXT NOT NULL,
    target  TEXT NOT NULL,
    detail  TEXT NOT NULL,              -- JSON object
    client  TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- Claims may now be 'dismissed' (a person judged the item not false). SQLite cannot alter a
-- CHECK constraint, so the claims table is rebuilt. claim_keys references known_claims with
-- ON DELETE CASCADE, so its rows are parked in a plain table while the parent is replaced.
CREATE TABLE claim_keys_parked (band_key TEXT NOT NULL, claim_id TEXT NOT NULL);
INSERT INTO claim_keys_parked SELECT band_key, claim_id FROM claim_keys;
DROP TABLE claim_keys;
CREATE TABLE known_claims_v6 (
    id                TEXT PRIMARY KEY,
    text              TEXT NOT NULL,
    rebuttal_url      TEXT,
    source_article_id TEXT,
    status            TEXT NOT NULL CHECK (status IN ('proposed', 'confirmed', 'dismissed')),
    created_at        TEXT NOT NULL,
    signature         TEXT NOT NULL           -- JSON list of ints (crawlers.dedup.signature)
);
INSERT INTO known_claims_v6 SELECT id, text, rebuttal_url, source_article_id, status, created_at, signature
    FROM known_claims;
DROP TABLE known_claims;
ALTER TABLE known_claims_v6 RENAME TO known_claims;
CREATE INDEX known_claims_status ON known_claims (status, created_at);
CREATE TABLE claim_keys (
    band_key TEXT NOT NULL,
    claim_id TEXT NOT NULL REFERENCES known_claims (id) ON DELETE CASCADE,
    PRIMARY KEY (band_key, claim_id)
) WITHOUT ROWID;
INSERT INTO claim_keys SELECT band_key, claim_id FROM claim_keys_parked;
DROP TABLE claim_keys_parked;
