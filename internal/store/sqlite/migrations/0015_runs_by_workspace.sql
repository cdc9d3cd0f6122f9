-- 0015 (SQLite): runs are keyed by (workspace_id, id), and listed in
-- that key's order.
--
-- A run's id begins with its event's created_at, which is the run's own
-- created_at (store.RunID, since 0006): the order of (created_at, id),
-- which the listings and their cursors follow, is the order of the ids,
-- and the key serves the listing of a workspace's matched runs: runs_list,
-- a third B-tree per run, goes (see store/keyorder.go).
--
-- Runs made before the decision record (0006) carry ids of their own and
-- their own created_at: they are marked unordered, as deliveries are
-- (0014), and kept in (created_at, id) order by a partial index of those
-- rows alone.
CREATE TABLE runs_new (
    workspace_id INTEGER NOT NULL,
    id           TEXT    NOT NULL,
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
    legacy       INTEGER, -- 1: its event has no decision record (found by event_id)
    unordered    INTEGER, -- 1: created_at is not the time the id carries
    PRIMARY KEY (workspace_id, id)
) WITHOUT ROWID;
INSERT INTO runs_new (workspace_id, id, event_id, rule_id, rule_name, rule_version, matched, executed, status,
    result, actions, created_at, settled_at, legacy, unordered)
SELECT workspace_id, id, event_id, rule_id, rule_name, rule_version, matched, executed, status, result, actions,
    created_at, settled_at, legacy,
    CASE WHEN lower(replace(substr(id, 1, 13), '-', '')) = printf('%012x', created_at) THEN NULL ELSE 1 END
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_rule ON runs (workspace_id, rule_id, created_at, id);
CREATE INDEX runs_legacy_event ON runs (event_id) WHERE legacy IS NOT NULL;
CREATE INDEX runs_unordered ON runs (workspace_id, created_at, id) WHERE unordered IS NOT NULL;
