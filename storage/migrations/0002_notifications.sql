-- One durable outbox for every outgoing notification (SPEC §8).
-- status: pending → claimed → sent | failed | unknown, or pending → digest → digested,
-- or pending → dropped. `unknown`: claimed by a sender that died before recording the
-- outcome; never sent again, since Telegram may already have delivered it.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    category TEXT NOT NULL,
    urgent INTEGER NOT NULL DEFAULT 0,
    payload TEXT NOT NULL,
    dedupe_key TEXT UNIQUE,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
        ('pending', 'claimed', 'sent', 'failed', 'unknown', 'dropped', 'digest', 'digested')),
    not_before TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_at TEXT,
    sent_at TEXT,
    telegram_message_id INTEGER,
    digest_id INTEGER,  -- the digest message that carried this row
    last_error TEXT,
    created_at TEXT NOT NULL
);
-- Partial indexes: the sender and the start-up check touch only the rows they need, however
-- many delivered rows the table keeps.
CREATE INDEX outbox_due ON outbox (not_before, id) WHERE status = 'pending';
CREATE INDEX outbox_claimed ON outbox (id) WHERE status = 'claimed';
CREATE INDEX outbox_digest ON outbox (user_id, id) WHERE status = 'digest';
CREATE INDEX outbox_by_user ON outbox (user_id, status);

-- Per-person choice per category; no row means the default (domain/notifications.py).
CREATE TABLE notification_settings (
    user_id INTEGER NOT NULL REFERENCES people(user_id) ON DELETE CASCADE,
    category TEXT NOT NULL CHECK (category IN ('deadlines', 'updates', 'announcements')),
    mode TEXT NOT NULL CHECK (mode IN ('immediate', 'digest', 'off')),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, category)
) WITHOUT ROWID;

-- Stage openings and closings already handled (SPEC §3), written in the same unit of work
-- as their effects. A stage moved to a later time after its transition ran transitions
-- again: `applied_at` is compared with the stage's current time.
CREATE TABLE stage_transitions (
    id INTEGER PRIMARY KEY,
    stage_id INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('open', 'close')),
    at TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    UNIQUE (stage_id, kind, at)
);

-- Reminders before stage deadlines already queued (or skipped after downtime), per offset.
CREATE TABLE stage_reminders (
    id INTEGER PRIMARY KEY,
    stage_id INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
    offset_seconds INTEGER NOT NULL,
    deadline TEXT NOT NULL,
    ran_at TEXT NOT NULL,
    queued INTEGER NOT NULL,
    skipped INTEGER NOT NULL DEFAULT 0,
    UNIQUE (stage_id, offset_seconds, deadline)
);

-- One daily digest run per local day.
CREATE TABLE digest_runs (
    day TEXT PRIMARY KEY,
    ran_at TEXT NOT NULL,
    messages INTEGER NOT NULL
);
