-- Hải Đăng SQLite schema, version 5: small named state of the alert rules that run on a schedule
-- (alerts/watch.py: when a spike rule last fired, which sources are known to be silent). One JSON
-- object per key, replaced whole; the service is the only writer, so no merge is needed.
CREATE TABLE alert_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,                -- a JSON object
    updated_at TEXT NOT NULL                 -- UTC, same fixed-width format as the other tables
);
