-- Hải Đăng SQLite schema, version 1.
-- Applied by haidang/store/schema.py inside one transaction, followed by PRAGMA user_version = 1.
-- Datetimes are stored as fixed-width UTC ISO strings ("2025-07-01T02:30:00.000000Z") so that
-- text comparison is time comparison; `doc` keeps the original offsets.

-- One row per article. `docno` is the stable integer rowid the full-text table keys on
-- (an implicit rowid may change on VACUUM); `id` is the hash of the canonical URL.
CREATE TABLE articles (
    docno         INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    source_id     TEXT NOT NULL,
    canonical_url TEXT NOT NULL,
    url           TEXT NOT NULL,
    title         TEXT NOT NULL DEFAULT '',
    published     TEXT,
    first_seen    TEXT NOT NULL,
    date_key      TEXT NOT NULL,          -- published, else first_seen: what date filters use
    lang          TEXT,
    province_code TEXT,
    relevant      INTEGER NOT NULL DEFAULT 0,
    story_id      TEXT,
    content_hash  TEXT NOT NULL,
    doc           TEXT NOT NULL,          -- Article.to_dict() as JSON
    updated_at    TEXT NOT NULL
);
CREATE INDEX articles_source ON articles (source_id, date_key);
CREATE INDEX articles_date ON articles (date_key);
CREATE INDEX articles_first_seen ON articles (first_seen, docno);

-- Every province an article is about: its own province_code and each matched province,
-- so the province filter finds an article by any province it mentions.
CREATE TABLE article_provinces (
    docno         INTEGER NOT NULL REFERENCES articles (docno) ON DELETE CASCADE,
    province_code TEXT NOT NULL,
    PRIMARY KEY (province_code, docno)
) WITHOUT ROWID;

-- Full text over the FOLDED title and text (haidang.textnorm.fold, applied by the application:
-- FTS5's remove_diacritics never folds đ). rowid = articles.docno; written in the same
-- transaction as the article row.
CREATE VIRTUAL TABLE articles_fts USING fts5 (
    title, text,
    tokenize = 'unicode61 remove_diacritics 0'
);

-- Locality-sensitive-hashing band keys for syndicated-copy detection.
CREATE TABLE story_signatures (
    article_id TEXT PRIMARY KEY,
    story_id   TEXT NOT NULL,
    signature  TEXT NOT NULL              -- JSON list of ints
);
CREATE TABLE story_keys (
    band_key   TEXT NOT NULL,
    article_id TEXT NOT NULL REFERENCES story_signatures (article_id) ON DELETE CASCADE,
    PRIMARY KEY (band_key, article_id)
) WITHOUT ROWID;
CREATE INDEX story_keys_article ON story_keys (article_id);

-- Conditional-GET validators per feed or page URL.
CREATE TABLE validators (
    url           TEXT PRIMARY KEY,
    source_id     TEXT,
    etag          TEXT,
    last_modified TEXT,
    updated_at    TEXT NOT NULL
);
CREATE INDEX validators_source ON validators (source_id);

-- One row per pass over a source.
CREATE TABLE source_runs (
    id          INTEGER PRIMARY KEY,
    source_id   TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    fetched     INTEGER NOT NULL,
    new         INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    duplicates  INTEGER NOT NULL,
    skipped     TEXT NOT NULL,            -- JSON object reason -> count
    errors      INTEGER NOT NULL,
    last_error  TEXT
);
CREATE INDEX source_runs_source ON source_runs (source_id, finished_at);

-- Items that failed a stage; one row per (source, URL, stage), attempts counted.
CREATE TABLE failures (
    id          INTEGER PRIMARY KEY,
    source_id   TEXT NOT NULL,
    url         TEXT NOT NULL,
    stage       TEXT NOT NULL,
    error_class TEXT NOT NULL,
    message     TEXT NOT NULL,
    at          TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    UNIQUE (source_id, url, stage)
);
CREATE INDEX failures_at ON failures (source_id, at);
