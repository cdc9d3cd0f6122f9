-- 0007: the outbox is drained. A delivery's target says where it goes:
-- a receiver (the workspace's actions_url or a send_webhook URL, or its
-- SMTP server), keyed per workspace and host so that delivery workers
-- limit their concurrency per target; NULL keeps it in the pull outbox
-- for the host to claim (POST /v1/actions/claim). A claimed row is
-- 'leased' to lease_owner with available_at moved to the lease's end, so
-- one index finds what is due: pending rows, and leased rows whose lease
-- has expired (their claimant is presumed dead).
ALTER TABLE deliveries ADD COLUMN target text;
ALTER TABLE deliveries ADD COLUMN lease_owner text;
DROP INDEX deliveries_due;
CREATE INDEX deliveries_push_due ON deliveries (available_at)
    WHERE target IS NOT NULL AND status IN ('pending', 'leased');
CREATE INDEX deliveries_pull_due ON deliveries (workspace_id, available_at)
    WHERE target IS NULL AND status IN ('pending', 'leased');
CREATE INDEX deliveries_list ON deliveries (workspace_id, created_at, id);
