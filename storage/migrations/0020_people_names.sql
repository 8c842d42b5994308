-- How officials see people (issue 15): the name and @username Telegram shows, kept for
-- signed-up people so roles are granted by person (@username, recent participants) and
-- officers and reviewers are shown by name. Exported by /mydata, erased by /deleteme.
CREATE TABLE people_names (
    user_id INTEGER PRIMARY KEY,
    full_name TEXT NOT NULL,
    username TEXT,
    seen_at TEXT NOT NULL
);
CREATE INDEX people_names_by_username ON people_names (username);
CREATE INDEX people_names_by_seen ON people_names (seen_at);
