-- 0010 (SQLite): a matched run and its deliveries stop copying what
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
-- Rows written before this step keep their delivery's action (the run
-- may have no actions: runs of events without a conversation had no
-- activity entry to take them from); rows written after it store NULL.

ALTER TABLE runs ADD COLUMN actions TEXT;
UPDATE runs SET actions = (
    SELECT a.actions FROM activities a WHERE a.run_id = runs.id ORDER BY a.created_at, a.id LIMIT 1);
ALTER TABLE runs DROP COLUMN conversation_id;
ALTER TABLE runs DROP COLUMN contact_id;
ALTER TABLE runs DROP COLUMN event_type;
ALTER TABLE runs DROP COLUMN event_source;
ALTER TABLE runs DROP COLUMN channel_source;
DROP TABLE activities;

CREATE TABLE deliveries_new (
    id           TEXT    PRIMARY KEY,
    workspace_id INTEGER NOT NULL,
    run_id       TEXT    NOT NULL,
    action_index INTEGER NOT NULL,
    action       TEXT, -- NULL: the run's actions[action_index]
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'leased', 'succeeded', 'failed', 'skipped')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    available_at INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    target       TEXT,
    lease_owner  TEXT,
    UNIQUE (run_id, action_index)
);
INSERT INTO deliveries_new (id, workspace_id, run_id, action_index, action, status, attempts, last_error,
    available_at, created_at, target, lease_owner)
SELECT id, workspace_id, run_id, action_index, action, status, attempts, last_error, available_at, created_at,
    target, lease_owner
FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_push_due ON deliveries (available_at)
    WHERE target IS NOT NULL AND status IN ('pending', 'leased');
CREATE INDEX deliveries_pull_due ON deliveries (workspace_id, available_at)
    WHERE target IS NULL AND status IN ('pending', 'leased');
CREATE INDEX deliveries_list ON deliveries (workspace_id, created_at, id);
