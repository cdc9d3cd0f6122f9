-- 0014 (PostgreSQL): deliveries are keyed by (workspace_id, id), and
-- listed in that key's order.
--
-- A delivery's id is its run's first 64 bits and a hash (store.DeliveryID),
-- and its run's id begins with its event's created_at; a delivery's
-- created_at is now that time too (it was the time its run was written,
-- a few milliseconds later). The order of (created_at, id), which the
-- listing and its cursors follow, is then the order of the ids, and the
-- key serves the listing: deliveries_list, a third index per delivery,
-- goes.
--
-- A row whose created_at is not the time its id carries — every row
-- written before this step, and any whose id was chosen otherwise — is
-- marked unordered and kept in (created_at, id) order by a partial index
-- of those rows alone; a listing merges the two (store.ListDeliveries).
ALTER TABLE deliveries ADD COLUMN unordered boolean;
UPDATE deliveries SET unordered = true
WHERE date_trunc('milliseconds', created_at) <> created_at
   OR floor(extract(epoch FROM created_at) * 1000)::bigint <>
      ('x' || lpad(replace(substr(id::text, 1, 13), '-', ''), 16, '0'))::bit(64)::bigint;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_pkey;
ALTER TABLE deliveries ADD PRIMARY KEY (workspace_id, id);
DROP INDEX deliveries_list;
CREATE INDEX deliveries_unordered ON deliveries (workspace_id, created_at, id) WHERE unordered;
