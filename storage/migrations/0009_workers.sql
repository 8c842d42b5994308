-- Several bot processes may share one PostgreSQL database (issue 10): each outbox claim
-- names the worker that made it, so a worker restarting settles only its own rows in flight.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
