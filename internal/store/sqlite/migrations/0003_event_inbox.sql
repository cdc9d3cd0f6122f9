-- 0003 (SQLite): the event inbox, where ingestion appends new events.
--
-- Why: a 202 needs only the durable append of the event, but an INSERT
-- into events also maintains its primary key and six secondary indexes,
-- several of them on random keys (payload_hash, conversation, order_key).
-- Every ingest commit then dirtied many random pages, each written to the
-- WAL with its own write before the fsync, and the single writer spent
-- nearly all its time there. The inbox has no secondary index at all: its
-- rows are appended in rowid order (seq, an INTEGER PRIMARY KEY), so an
-- ingest commit touches only the last pages of one b-tree.
--
-- The events' indexes are maintained in bulk instead, by a promote step
-- (INSERT INTO events … SELECT … FROM event_inbox ORDER BY seq; DELETE
-- FROM event_inbox) that runs inside the claim's write transaction, which
-- holds the single writer anyway: a claim always sees every ingested event,
-- and since events keep the created_at and id given at ingestion, the
-- per-order-key (created_at, id) order is untouched. Reads that must be
-- complete (ListEvents) promote first when the inbox is not empty; reads of
-- one event (GetEvent, idempotency duplicates, RetryEvent's conflict) look
-- in both tables; NextEventDue reads both.
--
-- An inbox row is always a pending event that was never claimed, so the
-- columns processing writes (lease, hops, chain) are left out. The
-- workspace foreign key stays, so that a bad workspace fails the ingest
-- rather than the promotion. The id is not indexed: the inbox only holds
-- what arrived since the last claim, and lookups by id are rare (a reused
-- idempotency key, GetEvent of an unclaimed event).
CREATE TABLE event_inbox (
    seq             INTEGER PRIMARY KEY, -- the rowid: append order
    id              TEXT    NOT NULL,
    workspace_id    INTEGER NOT NULL REFERENCES workspaces (id),
    event_type      TEXT    NOT NULL,
    conversation_id TEXT,
    contact_id      TEXT,
    payload         TEXT    NOT NULL,
    payload_hash    TEXT    NOT NULL,
    source          TEXT    NOT NULL,
    channel_source  TEXT,
    caused_by       TEXT,
    status          TEXT    NOT NULL CHECK (status = 'pending'),
    attempts        INTEGER NOT NULL DEFAULT 0,
    available_at    INTEGER NOT NULL,
    occurred_at     INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    processed_at    INTEGER,
    error           TEXT,
    order_key       TEXT    NOT NULL,
    target_rule_id  INTEGER
);
