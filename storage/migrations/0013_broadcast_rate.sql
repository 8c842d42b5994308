-- A running broadcast's status message shows the rate it is actually delivered at and an ETA
-- from it (issue 17): every few seconds it counts the broadcast's rows sent in the last half
-- minute. This index holds only delivered broadcast rows, by time, so that count reads just
-- those rows however large the broadcast.
CREATE INDEX outbox_broadcast_sent ON outbox (broadcast_id, sent_at)
    WHERE status = 'sent' AND broadcast_id IS NOT NULL;
