-- Several bot processes may share one PostgreSQL database (issue 10): each outbox claim
-- names the worker that made it, so a worker restarting settles only its own rows in flight.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;

-- Updates a worker has taken (shared databases only): Telegram sends an update again when
-- the answer to its POST is lost, and the next copy may reach another worker. Kept a day.
CREATE TABLE handled_updates (
    update_id INTEGER PRIMARY KEY,
    handled_at TEXT NOT NULL,
    worker TEXT NOT NULL
);
