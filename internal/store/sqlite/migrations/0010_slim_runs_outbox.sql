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
-- Both tables are rebuilt WITHOUT ROWID on their id: their other
-- indexes end in the id already, so the id is stored once rather than in
-- the table, a rowid and a separate key index. A delivery's id is now
-- derived from its run and action index (store.DeliveryID), so the key
-- itself refuses a second delivery of an action: the (run_id,
-- action_index) index goes. A run's deliveries are the ones its result
-- lists.
--
-- Rows written before this step keep their delivery's action (the run
-- may have no actions: runs of events without a conversation had no
-- activity entry to take them from); rows written after it store NULL.

-- A rule's run listing walks only the hours its rollups name. Runs made
-- before 0006 carry their own created_at, which may be later than their
-- event's: their events' hours get a rollup row with no counts, so the
-- walk finds them (totals do not change).
INSERT INTO run_rollups (workspace_id, rule_id, hour, evaluated, matched, executed, failed)
SELECT DISTINCT r.workspace_id, r.rule_id, e.created_at / 3600000, 0, 0, 0, 0
FROM runs r JOIN events e ON e.id = r.event_id
WHERE e.decisions IS NULL
ON CONFLICT DO NOTHING;

CREATE TABLE runs_new (
    id           TEXT    NOT NULL PRIMARY KEY,
    workspace_id INTEGER NOT NULL,
    event_id     TEXT    NOT NULL,
    rule_id      INTEGER NOT NULL,
    rule_name    TEXT    NOT NULL,
    rule_version INTEGER NOT NULL DEFAULT 0,
    matched      INTEGER NOT NULL,
    executed     INTEGER NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('not_matched', 'pending', 'executed', 'failed')),
    result       TEXT    NOT NULL,
    actions      TEXT, -- the rendered actions as decided, a JSON array
    created_at   INTEGER NOT NULL,
    settled_at   INTEGER,
    UNIQUE (event_id, rule_id)
) WITHOUT ROWID;
INSERT INTO runs_new (id, workspace_id, event_id, rule_id, rule_name, rule_version, matched, executed, status,
    result, actions, created_at, settled_at)
SELECT id, workspace_id, event_id, rule_id, rule_name, rule_version, matched, executed, status, result,
    (SELECT a.actions FROM activities a WHERE a.run_id = runs.id ORDER BY a.created_at, a.id LIMIT 1),
    created_at, settled_at
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_list ON runs (workspace_id, created_at, id);
CREATE INDEX runs_rule ON runs (workspace_id, rule_id, created_at, id);
DROP TABLE activities;

CREATE TABLE deliveries_new (
    id           TEXT    NOT NULL PRIMARY KEY,
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
    lease_owner  TEXT
) WITHOUT ROWID;
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
