-- Citizen panels (SPEC §5): applications, the published draw, meetings with RSVPs, and the
-- course codes of 예산학교 (completions are in budget_school, 0005).

-- One application per person per panel. `pseudonym` names the applicant in the published
-- pool; `features` are the quota answers, fixed when they applied. After /deleteme the row
-- keeps only the pseudonym and features (already public in the pool), with no user id.
CREATE TABLE panel_applications (
    id INTEGER PRIMARY KEY,
    programme_id INTEGER NOT NULL REFERENCES programmes(id) ON DELETE CASCADE,
    user_id INTEGER,
    pseudonym TEXT NOT NULL,
    features TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('applied', 'withdrawn', 'reserve', 'invited',
        'accepted', 'declined', 'expired', 'left')),
    applied_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    invited_at TEXT,
    respond_by TEXT,
    answered_at TEXT,
    -- set once the seat this row gave up was offered to the next reserve (found or not)
    replacement_called_at TEXT,
    replaced_by TEXT,
    UNIQUE (programme_id, user_id),
    UNIQUE (programme_id, pseudonym)
);
CREATE INDEX panel_applications_by_user ON panel_applications (user_id);
CREATE INDEX panel_applications_due ON panel_applications (status, respond_by);

-- The draw of one panel: the commitment (published before any seed exists) over the frozen
-- pool and quotas, then the seed and the result. Holds pseudonyms only.
CREATE TABLE panel_draws (
    programme_id INTEGER PRIMARY KEY REFERENCES programmes(id) ON DELETE CASCADE,
    commitment TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    seats INTEGER NOT NULL,
    pool TEXT NOT NULL,
    quotas TEXT NOT NULL,
    committed_at TEXT NOT NULL,
    committed_by INTEGER,
    seed TEXT,
    drawn_at TEXT,
    drawn_by INTEGER,
    selected TEXT,
    reserve TEXT
);

CREATE TABLE panel_meetings (
    id INTEGER PRIMARY KEY,
    programme_id INTEGER NOT NULL REFERENCES programmes(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    place TEXT NOT NULL,
    materials TEXT NOT NULL DEFAULT '',
    created_by INTEGER,
    created_at TEXT NOT NULL
);
CREATE INDEX panel_meetings_by_time ON panel_meetings (starts_at);

CREATE TABLE meeting_rsvps (
    meeting_id INTEGER NOT NULL REFERENCES panel_meetings(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL,
    answer TEXT NOT NULL CHECK (answer IN ('yes', 'no', 'maybe')),
    at TEXT NOT NULL,
    PRIMARY KEY (meeting_id, user_id)
);
CREATE INDEX meeting_rsvps_by_user ON meeting_rsvps (user_id);

-- Course codes an admin issues at the end of a 예산학교 course; entering one records
-- completion. Closed codes are refused.
CREATE TABLE budget_school_codes (
    code TEXT PRIMARY KEY,
    label TEXT NOT NULL DEFAULT '',
    created_by INTEGER,
    created_at TEXT NOT NULL,
    closed_at TEXT,
    uses INTEGER NOT NULL DEFAULT 0
);
