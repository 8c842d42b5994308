-- Of a group of headings (e.g. one per district) a person votes in one (SPEC §6). The roll
-- keeps the stage and the group of each heading voted in, and this index keeps one heading
-- per person, stage and group: of two casts in two headings of a group at once (a phone and
-- a laptop), the second waits for the first and is refused, without a lock around every
-- cast (issue 21).
ALTER TABLE voter_roll ADD COLUMN stage_id INTEGER;
ALTER TABLE voter_roll ADD COLUMN heading_group TEXT;
UPDATE voter_roll SET
    stage_id = (SELECT h.stage_id FROM ballot_headings h WHERE h.id = voter_roll.heading_id),
    heading_group = (
        SELECT json_extract(h.definition, '$.group') FROM ballot_headings h
        WHERE h.id = voter_roll.heading_id
    );
-- A roll that already breaks it (a heading put in a group after people voted in it and in
-- another of the group): the first of those headings keeps the group, the others none.
UPDATE voter_roll SET heading_group = NULL WHERE EXISTS (
    SELECT 1 FROM voter_roll e WHERE e.user_id = voter_roll.user_id
    AND e.stage_id = voter_roll.stage_id AND e.heading_group = voter_roll.heading_group
    AND e.heading_id < voter_roll.heading_id
);
CREATE UNIQUE INDEX voter_roll_one_of_group ON voter_roll (user_id, stage_id, heading_group)
    WHERE heading_group IS NOT NULL;
