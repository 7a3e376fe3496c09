-- Hải Đăng SQLite schema, version 12: hosts that answered 429 or 503 with a Retry-After longer than
-- a run may wait (crawlers.pauses). One row per host, kept across runs so the next `haidang run` or a
-- restarted `haidang serve` does not ask it again before `until`; a later answer never shortens it.
-- Ended pauses stay (one small row per host) and are simply ignored.
CREATE TABLE host_pauses (
    host      TEXT PRIMARY KEY,              -- crawlers.pauses.host_key: name, and port when not the default
    until     TEXT NOT NULL,                 -- UTC, same fixed-width format as the other tables
    source_id TEXT NOT NULL,                 -- the source whose request got the answer
    url       TEXT NOT NULL,
    status    INTEGER NOT NULL,              -- 429 or 503
    asked_s   REAL NOT NULL,                 -- seconds the server asked for, before the cap
    at        TEXT NOT NULL                  -- when the answer came
);
