-- Admin broadcasts (SPEC §9). A broadcast is created as a `draft` when its preview is shown;
-- confirming turns it `queued` and writes one outbox row per recipient in the same unit of
-- work (dedupe key `broadcast:<id>:<user_id>`), so a double confirm or a restart queues
-- nobody twice. `texts` is a JSON object language → text; `button` is JSON
-- {"kind": "proposal"|"ballot", "id": n} or NULL; `audience` is the segment as JSON.
CREATE TABLE broadcasts (
    id INTEGER PRIMARY KEY,
    created_by INTEGER NOT NULL,
    texts TEXT NOT NULL,
    photo TEXT,
    button TEXT,
    audience TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('draft', 'queued', 'running', 'paused', 'cancelled', 'done')),
    total INTEGER NOT NULL DEFAULT 0,
    status_chat_id INTEGER,
    status_message_id INTEGER,
    created_at TEXT NOT NULL,
    queued_at TEXT,
    finished_at TEXT
);
CREATE INDEX broadcasts_live ON broadcasts (status) WHERE status IN ('queued', 'running', 'paused');

-- Which broadcast an outbox row belongs to: pause, resume, cancel and the live counts work on
-- a broadcast's rows through this index.
ALTER TABLE outbox ADD COLUMN broadcast_id INTEGER REFERENCES broadcasts(id);
CREATE INDEX outbox_by_broadcast ON outbox (broadcast_id, status) WHERE broadcast_id IS NOT NULL;
