-- Hải Đăng SQLite schema, version 13: the audit entries about one thing, of one kind, without reading
-- the whole log (who decided a claim is asked each time an officer answers a flag).
CREATE INDEX audit_log_target ON audit_log (target, kind);
