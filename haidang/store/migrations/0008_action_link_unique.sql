-- Hải Đăng SQLite schema, version 8: one action per use of a signed link, enforced by the file.
-- link_id is the idempotency key of a link use (flag key and action); two processes submitting
-- the same link both try the INSERT and the UNIQUE index lets exactly one in. Actions recorded
-- before this version keep NULL (a UNIQUE index allows many NULLs); the web app still checks
-- those by flag key and action before it records.
ALTER TABLE response_actions ADD COLUMN link_id TEXT;
CREATE UNIQUE INDEX response_actions_link ON response_actions (link_id);
