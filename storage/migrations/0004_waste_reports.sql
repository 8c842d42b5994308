-- Budget-waste reports (예산낭비신고), SPEC §7.
CREATE TABLE waste_reports (
    id INTEGER PRIMARY KEY,
    receipt TEXT NOT NULL UNIQUE,
    receipt_year INTEGER NOT NULL,
    receipt_seq INTEGER NOT NULL,
    -- The flow's draft id: a double tap or a retry after a restart finds the same report.
    draft_token TEXT UNIQUE,
    programme_id INTEGER NOT NULL REFERENCES programmes(id),
    reporter_id INTEGER REFERENCES people(user_id) ON DELETE SET NULL,
    -- Kept only when the reporter agreed to be named or to be contacted.
    reporter_name TEXT,
    reporter_username TEXT,
    named_publicly INTEGER NOT NULL DEFAULT 0,
    contact_consent INTEGER NOT NULL DEFAULT 0,
    description TEXT NOT NULL,
    agency TEXT,
    district TEXT,
    address TEXT,
    latitude REAL,
    longitude REAL,
    occurred_on TEXT,
    amount INTEGER,
    status TEXT NOT NULL,
    department TEXT,
    officer_id INTEGER,
    verdict TEXT,
    answer TEXT,
    saved_amount INTEGER,
    reward INTEGER,
    due_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    answered_at TEXT,
    closed_at TEXT,
    updated_at TEXT NOT NULL,
    UNIQUE (receipt_year, receipt_seq)
);
CREATE INDEX waste_reports_by_status ON waste_reports (status, due_at);
CREATE INDEX waste_reports_by_reporter ON waste_reports (reporter_id, received_at);
CREATE INDEX waste_reports_by_officer ON waste_reports (officer_id, status);

-- The history the reporter and officers see: every step with time and actor.
CREATE TABLE waste_report_events (
    id INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES waste_reports(id),
    at TEXT NOT NULL,
    actor_id INTEGER,
    kind TEXT NOT NULL,
    note TEXT
);
CREATE INDEX waste_report_events_by_report ON waste_report_events (report_id, id);

-- Evidence as Telegram keeps it: the file id sends it again or fetches it with getFile; the
-- unique id notices the same file sent twice; kind, type and name say how to show it.
CREATE TABLE waste_report_files (
    id INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES waste_reports(id),
    event_id INTEGER REFERENCES waste_report_events(id),
    kind TEXT NOT NULL,
    file_id TEXT NOT NULL,
    file_unique_id TEXT NOT NULL,
    mime_type TEXT,
    file_name TEXT,
    added_at TEXT NOT NULL,
    UNIQUE (report_id, file_unique_id)
);
