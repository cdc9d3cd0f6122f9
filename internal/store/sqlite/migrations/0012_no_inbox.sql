-- 0012 (SQLite): ingestion writes into events again; the inbox is gone.
--
-- Why: 0003 moved new events into an index-free inbox so that an ingest
-- commit stayed small, and the next claim moved them into events. But
-- SQLite has one writer: the indexes were maintained all the same, by the
-- claim instead of the ingest, and each event was written three more
-- times (inbox, delete from the inbox, claim). Ingestion now inserts into
-- events, and hands the events it can to the node's workers already
-- claimed (IngestAndClaim): most events are then written once as
-- processing and once as processed, and no claim transaction runs for
-- them at all.
--
-- Events still in the inbox move into events first, in arrival order,
-- with the created_at and id they were given, so the order of an order
-- key's events is what it was.
INSERT INTO events (id, workspace_id, event_type, conversation_id, contact_id, payload, payload_hash, source,
    channel_source, caused_by, status, attempts, available_at, occurred_at, created_at, processed_at, error,
    order_key, target_rule_id)
SELECT id, workspace_id, event_type, conversation_id, contact_id, payload, payload_hash, source,
    channel_source, caused_by, status, attempts, available_at, occurred_at, created_at, processed_at, error,
    order_key, target_rule_id
FROM event_inbox ORDER BY seq;
DROP TABLE event_inbox;
