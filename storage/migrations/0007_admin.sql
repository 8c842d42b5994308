-- Moderation (SPEC §4, §9 issue 8): decisions on reported or hidden content, posting blocks.
CREATE TABLE moderation_decisions (
    id INTEGER PRIMARY KEY,
    target_type TEXT NOT NULL,
    target_id INTEGER NOT NULL,
    decision TEXT NOT NULL,
    reason TEXT,
    moderator_id INTEGER,
    at TEXT NOT NULL
);
CREATE INDEX moderation_by_target ON moderation_decisions (target_type, target_id, id);

CREATE TABLE posting_blocks (
    user_id INTEGER PRIMARY KEY,
    reason TEXT,
    blocked_by INTEGER,
    at TEXT NOT NULL
);

CREATE INDEX audit_by_time ON audit_log (id DESC);
