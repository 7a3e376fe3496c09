-- Hải Đăng SQLite schema, version 3: known false claims and their LSH band keys.
-- A claim starts as 'proposed' (extracted from a debunk report by nlp/claims.py) and becomes
-- 'confirmed' only when a person confirms it; only confirmed claims flag later articles.
-- created_at uses the same fixed-width UTC ISO format as the articles table.
CREATE TABLE known_claims (
    id                TEXT PRIMARY KEY,
    text              TEXT NOT NULL,
    rebuttal_url      TEXT,
    source_article_id TEXT,
    status            TEXT NOT NULL CHECK (status IN ('proposed', 'confirmed')),
    created_at        TEXT NOT NULL,
    signature         TEXT NOT NULL           -- JSON list of ints (crawlers.dedup.signature)
);
CREATE INDEX known_claims_status ON known_claims (status, created_at);

-- Band keys of each claim's signature, so a resurfacing claim is found without a full scan.
CREATE TABLE claim_keys (
    band_key TEXT NOT NULL,
    claim_id TEXT NOT NULL REFERENCES known_claims (id) ON DELETE CASCADE,
    PRIMARY KEY (band_key, claim_id)
) WITHOUT ROWID;
