-- Voting (엠보팅 / 시민투표), SPEC §6. Ballots are kept apart from the voter roll: the roll
-- says who voted, a ballot row carries only a keyed pseudonym, never a user id.
CREATE TABLE ballot_headings (
    id INTEGER PRIMARY KEY,
    stage_id INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    definition TEXT NOT NULL,
    UNIQUE (stage_id, key)
);

CREATE TABLE voter_roll (
    heading_id INTEGER NOT NULL REFERENCES ballot_headings(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL,
    first_voted_at TEXT NOT NULL,
    last_voted_at TEXT NOT NULL,
    PRIMARY KEY (heading_id, user_id)
);

CREATE TABLE ballots (
    id INTEGER PRIMARY KEY,
    heading_id INTEGER NOT NULL REFERENCES ballot_headings(id) ON DELETE CASCADE,
    pseudonym TEXT,
    choices TEXT NOT NULL,
    weight REAL NOT NULL DEFAULT 1.0,
    voter_group TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT 'online',
    cast_at TEXT NOT NULL,
    UNIQUE (heading_id, pseudonym)
);

-- Paper or on-site votes counted per project only (usable with greedy, SPEC §6).
CREATE TABLE offline_counts (
    heading_id INTEGER NOT NULL REFERENCES ballot_headings(id) ON DELETE CASCADE,
    item_key TEXT NOT NULL,
    votes INTEGER NOT NULL CHECK (votes >= 0),
    note TEXT,
    PRIMARY KEY (heading_id, item_key)
);

CREATE TABLE tally_results (
    heading_id INTEGER PRIMARY KEY REFERENCES ballot_headings(id) ON DELETE CASCADE,
    rule TEXT NOT NULL,
    selected TEXT NOT NULL,
    computed_at TEXT NOT NULL,
    confirmed_at TEXT,
    confirmed_by INTEGER
);

-- 예산학교 (budget school) completion: unlocks committee applications and any vote weight.
CREATE TABLE budget_school (
    user_id INTEGER PRIMARY KEY,
    completed_at TEXT NOT NULL,
    source TEXT NOT NULL
);

-- Keys made once per installation (e.g. for ballot pseudonyms) unless configured.
CREATE TABLE installation_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
