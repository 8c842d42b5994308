-- Proposals and support (공감), SPEC §4.
CREATE TABLE proposals (
    id INTEGER PRIMARY KEY,
    programme_id INTEGER NOT NULL REFERENCES programmes(id),
    author_id INTEGER REFERENCES people(user_id) ON DELETE SET NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    field TEXT NOT NULL,
    scope TEXT NOT NULL,
    districts TEXT NOT NULL DEFAULT '[]',
    dong TEXT,
    kind TEXT,
    cost INTEGER,
    photos TEXT NOT NULL DEFAULT '[]',
    latitude REAL,
    longitude REAL,
    status TEXT NOT NULL,
    support_count INTEGER NOT NULL DEFAULT 0,
    published_at TEXT,
    support_ends_at TEXT,
    debate_kind TEXT,
    debate_ends_at TEXT,
    merged_into INTEGER REFERENCES proposals(id),
    transferred_to TEXT,
    answer TEXT,
    progress INTEGER,
    hidden INTEGER NOT NULL DEFAULT 0,
    report_count INTEGER NOT NULL DEFAULT 0,
    -- The submitting client's key for this draft: submitting twice creates one proposal.
    client_key TEXT UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX proposals_by_status ON proposals (status, support_ends_at);
CREATE INDEX proposals_by_author ON proposals (author_id, created_at);
CREATE INDEX proposals_by_field ON proposals (field, status);

CREATE TABLE supports (
    proposal_id INTEGER NOT NULL REFERENCES proposals(id),
    user_id INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (proposal_id, user_id)
);
CREATE INDEX supports_by_user ON supports (user_id);

CREATE TABLE follows (
    proposal_id INTEGER NOT NULL REFERENCES proposals(id),
    user_id INTEGER NOT NULL,
    PRIMARY KEY (proposal_id, user_id)
);
CREATE INDEX follows_by_user ON follows (user_id);

-- The history a proposer and followers see: every transition with time and actor.
CREATE TABLE proposal_events (
    id INTEGER PRIMARY KEY,
    proposal_id INTEGER NOT NULL REFERENCES proposals(id),
    at TEXT NOT NULL,
    actor_id INTEGER,
    status TEXT NOT NULL,
    note TEXT,
    progress INTEGER
);
CREATE INDEX proposal_events_by_proposal ON proposal_events (proposal_id, id);

CREATE TABLE comments (
    id INTEGER PRIMARY KEY,
    proposal_id INTEGER NOT NULL REFERENCES proposals(id),
    author_id INTEGER REFERENCES people(user_id) ON DELETE SET NULL,
    text TEXT NOT NULL,
    stance TEXT,
    hidden INTEGER NOT NULL DEFAULT 0,
    report_count INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX comments_by_proposal ON comments (proposal_id, id);

-- One report per person per proposal or comment.
CREATE TABLE content_reports (
    target_type TEXT NOT NULL,
    target_id INTEGER NOT NULL,
    reporter_id INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (target_type, target_id, reporter_id)
);

-- 찬반 stances in a 찬반형 public debate (공론); one per person, changeable.
CREATE TABLE debate_stances (
    proposal_id INTEGER NOT NULL REFERENCES proposals(id),
    user_id INTEGER NOT NULL,
    stance TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (proposal_id, user_id)
);

-- Roles granted in the chat (super-admins come from ADMIN_IDS); scope e.g. a policy field.
CREATE TABLE roles (
    user_id INTEGER NOT NULL,
    role TEXT NOT NULL,
    scope TEXT NOT NULL DEFAULT '',
    granted_by INTEGER,
    granted_at TEXT NOT NULL,
    PRIMARY KEY (user_id, role, scope)
);
