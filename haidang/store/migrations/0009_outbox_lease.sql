-- Hải Đăng SQLite schema, version 9: a delivery lease on outbox messages, and their age.
-- Before sending, a process claims the message (Store.claim): one UPDATE that sets lease_owner and
-- lease_until only while the row is pending, due and unleased (or its lease has expired), so of
-- several processes (`haidang run`, `demo`, `serve`) exactly one wins and sends. mark_sent,
-- mark_retry and mark_failed clear the lease; a crashed owner's lease simply expires.
-- pending_since: when the message last became pending (its first due time, or the time an
-- operator put a failed message back with `haidang outbox retry`); the outbox gives up on a
-- message that has not got through `outbox.max_age_hours` after it. Old rows start from created_at.
-- failed_at: when it was marked failed, so the digest after a give-up shows it (its created_at is
-- days older than the digest's window by then). Unknown for rows failed before this version.
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_until TEXT;
ALTER TABLE outbox ADD COLUMN pending_since TEXT;
ALTER TABLE outbox ADD COLUMN failed_at TEXT;
UPDATE outbox SET pending_since = created_at;
