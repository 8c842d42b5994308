-- People: a person is their Telegram user id (SPEC §2). Nothing is stored before consent.
CREATE TABLE people (
    user_id INTEGER PRIMARY KEY,
    language TEXT NOT NULL DEFAULT 'ko',
    consented_at TEXT NOT NULL,
    relation TEXT,
    district TEXT,
    gender TEXT,
    birth_year INTEGER,
    dong TEXT,
    declared_not_official_at TEXT,
    phone_hmac TEXT UNIQUE,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE programmes (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    name_ko TEXT NOT NULL,
    name_en TEXT NOT NULL,
    description_ko TEXT,
    description_en TEXT,
    settings TEXT NOT NULL DEFAULT '{}',
    updated_at TEXT NOT NULL
);

-- Times are UTC ISO-8601; shown in Asia/Seoul.
CREATE TABLE stages (
    id INTEGER PRIMARY KEY,
    programme_id INTEGER NOT NULL REFERENCES programmes(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    key TEXT NOT NULL,
    name_ko TEXT NOT NULL,
    name_en TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT,
    actions TEXT NOT NULL,
    UNIQUE (programme_id, key),
    UNIQUE (programme_id, position)
);
CREATE INDEX stages_by_time ON stages (starts_at, ends_at);

-- python-telegram-bot persistence, so a person mid-flow continues after a restart.
CREATE TABLE ptb_conversations (
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (name, key)
);
CREATE TABLE ptb_user_data (
    user_id INTEGER PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE ptb_chat_data (
    chat_id INTEGER PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE ptb_bot_data (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    data TEXT NOT NULL
);

-- Every admin action (SPEC §2).
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor_id INTEGER,
    action TEXT NOT NULL,
    subject TEXT,
    details TEXT NOT NULL DEFAULT '{}'
);
