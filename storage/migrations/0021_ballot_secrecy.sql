-- Ballot secrecy against whoever holds the database (issue 16, docs/ballot-secrecy.md).
-- A ballot row keeps no time (the roll keeps the voters' times for turnout); its id is random
-- and rows are written only by the mix, all of a heading's at once in a shuffled order.
ALTER TABLE ballots DROP COLUMN cast_at;

-- Ballots cast since the heading's last mix, sealed with the ballot key (AES-GCM): written in
-- the voter's unit of work with their roll entry, unreadable without the key, deleted when
-- the mix moves them into `ballots`.
CREATE TABLE ballot_box (
    id INTEGER PRIMARY KEY,
    heading_id INTEGER NOT NULL REFERENCES ballot_headings(id) ON DELETE CASCADE,
    sealed TEXT NOT NULL
);
CREATE INDEX ballot_box_heading ON ballot_box (heading_id);

-- Receipts that check, nothing else: a digest of each voter's receipt code per heading, with
-- no link to a ballot row (a receipt must not lead to the choices).
CREATE TABLE ballot_receipts (
    heading_id INTEGER NOT NULL REFERENCES ballot_headings(id) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    PRIMARY KEY (heading_id, digest)
);
