-- Durable intake (issue 21). Every update from Telegram is recorded here before Telegram is
-- told we have it (the webhook's 200, or the polling offset moving past it); workers take
-- them from here. One person's updates are taken one at a time, in update_id order: the next
-- only once the one before is done. A claim names its worker; a worker that stops sending
-- heartbeats (workers.seen_at) loses its claims to the others. `applied_at` is set by the
-- first unit of work that writes on the update's behalf, so an update taken over after its
-- worker died is not applied twice. Done rows are kept a day (Telegram re-sends an update
-- whose answer was lost; the copy is ignored), without their payload.
CREATE TABLE updates (
    update_id INTEGER PRIMARY KEY,
    person INTEGER NOT NULL,
    payload TEXT,
    received_at TEXT NOT NULL,
    claimed_by TEXT,
    claimed_at TEXT,
    applied_at TEXT,
    done_at TEXT
);
CREATE INDEX updates_waiting ON updates (person, update_id) WHERE done_at IS NULL;
CREATE INDEX updates_done ON updates (done_at) WHERE done_at IS NOT NULL;

-- Live workers: a heartbeat, and how many updates each finished in its last beat (a busier
-- worker leaves what it receives to a less busy one: load spreads after a restart).
CREATE TABLE workers (
    name TEXT PRIMARY KEY,
    seen_at TEXT NOT NULL,
    load INTEGER NOT NULL DEFAULT 0
);

-- Versions of what processes keep in memory: a change bumps its version in the same unit of
-- work, so every process reads it again (storage/programmes.py).
CREATE TABLE cache_versions (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);

-- Replaced by `updates`.
DROP TABLE handled_updates;
