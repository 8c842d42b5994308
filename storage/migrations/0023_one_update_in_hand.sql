-- One person's updates are handled one at a time (issue 21): at most one of them is taken
-- and not done. The claims check it; this index makes it hold when two claims for the same
-- person race (their updates arrived at once on two connections), without a lock around
-- every claim: the second waits for the first and is refused. Claims that already break it
-- (from before this index) are released, all but the person's earliest.
UPDATE updates SET claimed_by = NULL, claimed_at = NULL
WHERE done_at IS NULL AND claimed_by IS NOT NULL AND EXISTS (
    SELECT 1 FROM updates e WHERE e.person = updates.person AND e.done_at IS NULL
    AND e.claimed_by IS NOT NULL AND e.update_id < updates.update_id
);
CREATE UNIQUE INDEX updates_one_in_hand ON updates (person)
    WHERE claimed_by IS NOT NULL AND done_at IS NULL;
