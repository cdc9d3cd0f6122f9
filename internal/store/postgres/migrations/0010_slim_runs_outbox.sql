-- 0010 (PostgreSQL): a matched run and its deliveries stop copying what
-- their event and rule already hold.
--
-- A matched run now keeps the actions it decided, rendered (a JSON array,
-- runs.actions): they are its conversation's activity entry, and each of
-- its deliveries' action is the entry at its action_index. The
-- activities table, which repeated the run, goes: a conversation's
-- timeline is its events' matched runs. The runs' copies of their
-- event's conversation, contact, type, source and channel, and the
-- deliveries' copies of their run's event, rule, conversation and
-- contact, go too: reads join the run and the event.
--
-- A delivery's id is now derived from its run and action index
-- (store.DeliveryID), so the key itself refuses a second delivery of an
-- action: the (run_id, action_index) constraint goes. A run's deliveries
-- are the ones its result lists.
--
-- Rows written before this step keep their delivery's action (the run
-- may have no actions: runs of events without a conversation had no
-- activity entry to take them from); rows written after it store NULL.

-- A rule's run listing walks only the hours its rollups name. Runs made
-- before 0006 carry their own created_at, which may be later than their
-- event's: their events' hours get a rollup row with no counts, so the
-- walk finds them (totals do not change).
INSERT INTO run_rollups (workspace_id, rule_id, hour, evaluated, matched, executed, failed)
SELECT DISTINCT r.workspace_id, r.rule_id, (extract(epoch FROM e.created_at) * 1000)::bigint / 3600000, 0, 0, 0, 0
FROM runs r JOIN events e ON e.id = r.event_id
WHERE e.decisions IS NULL
ON CONFLICT DO NOTHING;

ALTER TABLE runs ADD COLUMN actions text;
UPDATE runs r SET actions = (
    SELECT a.actions FROM activities a WHERE a.run_id = r.id ORDER BY a.created_at, a.id LIMIT 1);
ALTER TABLE runs
    DROP COLUMN conversation_id,
    DROP COLUMN contact_id,
    DROP COLUMN event_type,
    DROP COLUMN event_source,
    DROP COLUMN channel_source;
DROP TABLE activities;

ALTER TABLE deliveries
    DROP COLUMN event_id,
    DROP COLUMN rule_id,
    DROP COLUMN conversation_id,
    DROP COLUMN contact_id,
    ALTER COLUMN action DROP NOT NULL,
    DROP CONSTRAINT deliveries_run_action_key;
