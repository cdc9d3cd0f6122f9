-- 0015 (PostgreSQL): runs are keyed by (workspace_id, id), and listed in
-- that key's order.
--
-- A run's id begins with its event's created_at, which is the run's own
-- created_at (store.RunID, since 0006): the order of (created_at, id),
-- which the listings and their cursors follow, is the order of the ids,
-- and the key serves the listing of a workspace's matched runs: runs_list,
-- a third index per run, goes (see store/keyorder.go).
--
-- Runs made before the decision record (0006) carry ids of their own and
-- their own created_at: they are marked unordered, as deliveries are
-- (0014), and kept in (created_at, id) order by a partial index of those
-- rows alone.
ALTER TABLE runs ADD COLUMN unordered boolean;
UPDATE runs SET unordered = true
WHERE date_trunc('milliseconds', created_at) <> created_at
   OR floor(extract(epoch FROM created_at) * 1000)::bigint <>
      ('x' || lpad(replace(substr(id::text, 1, 13), '-', ''), 16, '0'))::bit(64)::bigint;
ALTER TABLE runs DROP CONSTRAINT runs_pkey;
ALTER TABLE runs ADD PRIMARY KEY (workspace_id, id);
DROP INDEX runs_list;
CREATE INDEX runs_unordered ON runs (workspace_id, created_at, id) WHERE unordered;
