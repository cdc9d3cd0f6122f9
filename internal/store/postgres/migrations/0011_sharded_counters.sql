-- 0011 (PostgreSQL): counters and rollups in shards.
--
-- Every completion adds to the counters of the rules that matched and to
-- the hourly rollups of every rule it evaluated: the same few rows for
-- every event. Concurrent completions (several workers, several nodes)
-- then waited for each other's commit on those rows. Each transaction now
-- adds to one shard of its choosing, and every read sums the shards.
--
-- run_rollups gains a shard in its key (existing rows are shard 0).
-- A rule's match_count, applied_count, last_matched_at and last_applied_at
-- move from its row to rule_counters (existing values become shard 0);
-- the columns of rules stay, no longer written nor read.
ALTER TABLE run_rollups ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE run_rollups DROP CONSTRAINT run_rollups_pkey;
ALTER TABLE run_rollups ADD PRIMARY KEY (workspace_id, rule_id, hour, shard);

CREATE TABLE rule_counters (
    rule_id         bigint      NOT NULL,
    shard           smallint    NOT NULL,
    workspace_id    bigint      NOT NULL,
    match_count     bigint      NOT NULL,
    applied_count   bigint      NOT NULL,
    last_matched_at timestamptz,
    last_applied_at timestamptz,
    PRIMARY KEY (rule_id, shard)
);

INSERT INTO rule_counters (rule_id, shard, workspace_id, match_count, applied_count, last_matched_at, last_applied_at)
SELECT id, 0, workspace_id, match_count, applied_count, last_matched_at, last_applied_at
FROM rules
WHERE match_count <> 0 OR applied_count <> 0 OR last_matched_at IS NOT NULL OR last_applied_at IS NOT NULL;
