-- Hải Đăng SQLite schema, version 16: the stored article an outbox message describes. A rule flag
-- names the copy that matched the rule, which may be a later outlet's copy rather than the story's
-- founding article (whose id is the story id); the web flag pages and the reminders showed the
-- founder. Rows queued before this version keep NULL, and readers fall back to the story id.
ALTER TABLE outbox ADD COLUMN article_id TEXT;
