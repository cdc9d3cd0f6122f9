-- 0014 (SQLite): deliveries are keyed by (workspace_id, id), and listed
-- in that key's order.
--
-- A delivery's id is its run's first 64 bits and a hash (store.DeliveryID),
-- and its run's id begins with its event's created_at; a delivery's
-- created_at is now that time too (it was the time its run was written,
-- a few milliseconds later). The order of (created_at, id), which the
-- listing and its cursors follow, is then the order of the ids, and the
-- key serves the listing: deliveries_list, a third B-tree per delivery
-- (a ninth of the store's bytes per event), goes.
--
-- A row whose created_at is not the time its id carries — every row
-- written before this step, and any whose id was chosen otherwise — is
-- marked unordered and kept in (created_at, id) order by a partial index
-- of those rows alone; a listing merges the two (store.ListDeliveries).
CREATE TABLE deliveries_new (
    workspace_id INTEGER NOT NULL,
    id           TEXT    NOT NULL,
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
    unordered    INTEGER, -- 1: created_at is not the time the id carries (see above)
    PRIMARY KEY (workspace_id, id)
) WITHOUT ROWID;
INSERT INTO deliveries_new (workspace_id, id, run_id, action_index, action, status, attempts, last_error,
    available_at, created_at, target, lease_owner, unordered)
SELECT workspace_id, id, run_id, action_index, action, status, attempts, last_error, available_at, created_at,
    target, lease_owner,
    CASE WHEN lower(replace(substr(id, 1, 13), '-', '')) = printf('%012x', created_at) THEN NULL ELSE 1 END
FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_push_due ON deliveries (available_at)
    WHERE target IS NOT NULL AND status IN ('pending', 'leased');
CREATE INDEX deliveries_pull_due ON deliveries (workspace_id, available_at)
    WHERE target IS NULL AND status IN ('pending', 'leased');
CREATE INDEX deliveries_unordered ON deliveries (workspace_id, created_at, id) WHERE unordered IS NOT NULL;
