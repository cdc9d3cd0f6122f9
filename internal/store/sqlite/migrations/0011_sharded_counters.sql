-- 0011 (SQLite): counters and rollups in shards.
--
-- The same schema as PostgreSQL's 0011, where concurrent completions
-- would otherwise wait for each other on the same counter and rollup rows:
-- each transaction adds to one shard, and every read sums the shards.
-- SQLite has a single writer, so it always writes shard 0.
--
-- run_rollups gains a shard in its key (existing rows are shard 0).
-- A rule's match_count, applied_count, last_matched_at and last_applied_at
-- move from its row to rule_counters (existing values become shard 0);
-- the columns of rules stay, no longer written nor read.
CREATE TABLE run_rollups_sharded (
    workspace_id INTEGER NOT NULL,
    rule_id      INTEGER NOT NULL,
    hour         INTEGER NOT NULL, -- unix milliseconds / 3,600,000 of the runs' created_at
    shard        INTEGER NOT NULL,
    evaluated    INTEGER NOT NULL,
    matched      INTEGER NOT NULL,
    executed     INTEGER NOT NULL,
    failed       INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, rule_id, hour, shard)
) WITHOUT ROWID;
INSERT INTO run_rollups_sharded (workspace_id, rule_id, hour, shard, evaluated, matched, executed, failed)
SELECT workspace_id, rule_id, hour, 0, evaluated, matched, executed, failed FROM run_rollups;
DROP TABLE run_rollups;
ALTER TABLE run_rollups_sharded RENAME TO run_rollups;

CREATE TABLE rule_counters (
    rule_id         INTEGER NOT NULL,
    shard           INTEGER NOT NULL,
    workspace_id    INTEGER NOT NULL,
    match_count     INTEGER NOT NULL,
    applied_count   INTEGER NOT NULL,
    last_matched_at INTEGER,
    last_applied_at INTEGER,
    PRIMARY KEY (rule_id, shard)
) WITHOUT ROWID;

INSERT INTO rule_counters (rule_id, shard, workspace_id, match_count, applied_count, last_matched_at, last_applied_at)
SELECT id, 0, workspace_id, match_count, applied_count, last_matched_at, last_applied_at
FROM rules
WHERE match_count <> 0 OR applied_count <> 0 OR last_matched_at IS NOT NULL OR last_applied_at IS NOT NULL;
