-- 0013 (SQLite): runs lose their (event_id, rule_id) key.
--
-- A run written since the decision record (0006) is found from its event
-- without it: its id carries the event's created_at in its first 48 bits
-- (store.RunID), so an event's runs are a range of the primary key, and
-- its record names the rules it evaluated. Only runs of events completed
-- before the record are found by event_id: they are marked legacy here,
-- and a partial index on event_id holds them alone. New runs leave legacy
-- NULL, which costs them nothing. The key was a ninth of the store's
-- bytes per event and one B-tree insert per run; a run is still written
-- once, by the one completion its event's fence accepts, under an id
-- derived from (event, rule), and the primary key refuses a second.

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
    legacy       INTEGER -- 1: its event has no decision record (found by event_id)
) WITHOUT ROWID;
INSERT INTO runs_new (id, workspace_id, event_id, rule_id, rule_name, rule_version, matched, executed, status,
    result, actions, created_at, settled_at, legacy)
SELECT r.id, r.workspace_id, r.event_id, r.rule_id, r.rule_name, r.rule_version, r.matched, r.executed, r.status,
    r.result, r.actions, r.created_at, r.settled_at,
    CASE WHEN EXISTS (SELECT 1 FROM events e WHERE e.id = r.event_id AND e.decisions IS NOT NULL) THEN NULL ELSE 1 END
FROM runs r;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_list ON runs (workspace_id, created_at, id);
CREATE INDEX runs_rule ON runs (workspace_id, rule_id, created_at, id);
CREATE INDEX runs_legacy_event ON runs (event_id) WHERE legacy IS NOT NULL;
