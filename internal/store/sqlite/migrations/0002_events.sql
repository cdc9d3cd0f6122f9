-- 0002 (SQLite): the event queue and what processing leaves behind — runs,
-- deliveries (the outbox), conversation timelines and state, cooldowns —
-- and the idempotency keys of ingestion.
--
-- Times are INTEGER unix milliseconds in UTC; JSON documents are TEXT; ids
-- of events, runs, deliveries and activity entries are UUIDv7 strings,
-- which sort by creation in SQLite's binary collation. Tables whose rows
-- hold documents (payloads, results) keep their rowid, so that secondary
-- indexes point at 8-byte rowids and large rows do not bloat the key tree;
-- the small keyed tables are WITHOUT ROWID.
--
-- The derived tables (runs, deliveries, activities) carry workspace_id but
-- no foreign key to events: they are only ever written by CompleteEvents,
-- in the transaction that checked the event's lease, and a foreign-key
-- lookup per row would cost the hot path for nothing. Rule counters are the
-- columns rules already has (0001).

CREATE TABLE events (
    id               TEXT    PRIMARY KEY,
    workspace_id     INTEGER NOT NULL REFERENCES workspaces (id),
    event_type       TEXT    NOT NULL,
    conversation_id  TEXT,
    contact_id       TEXT,
    payload          TEXT    NOT NULL, -- the bytes the host sent, verbatim
    payload_hash     TEXT    NOT NULL,
    source           TEXT    NOT NULL,
    channel_source   TEXT,
    caused_by        TEXT,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'processing', 'processed', 'skipped', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    available_at     INTEGER NOT NULL,
    occurred_at      INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    processed_at     INTEGER,
    error            TEXT,
    -- conversation_id, else contact_id, else id: events sharing it are
    -- processed one at a time in (created_at, id) order.
    order_key        TEXT    NOT NULL,
    target_rule_id   INTEGER,
    hops             INTEGER NOT NULL DEFAULT 0,
    caused_by_rules  TEXT, -- JSON array of rule ids
    lease_owner      TEXT,
    lease_fence      INTEGER,
    lease_expires_at INTEGER
);
-- Listings (and retention) walk a workspace's events in (created_at, id)
-- order.
CREATE INDEX events_list ON events (workspace_id, created_at, id);
CREATE INDEX events_payload_hash ON events (workspace_id, payload_hash);
CREATE INDEX events_conversation ON events (workspace_id, conversation_id, created_at, id)
    WHERE conversation_id IS NOT NULL;
-- The queue: unfinished events, oldest first. Finished events leave these
-- indexes, so a claim never walks history.
CREATE INDEX events_queue ON events (created_at, id) WHERE status IN ('pending', 'processing');
-- "Is an earlier event of this order key unfinished?"
CREATE INDEX events_unfinished ON events (workspace_id, order_key, created_at, id)
    WHERE status IN ('pending', 'processing');
-- At most one event of an order key is processing: the claim query already
-- ensures it; the index makes it a property of the data.
CREATE UNIQUE INDEX events_one_processing ON events (workspace_id, order_key) WHERE status = 'processing';

-- A key is honoured for 24 hours; an older row is replaced by the next
-- request that uses the key.
CREATE TABLE idempotency_keys (
    workspace_id INTEGER NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, key)
) WITHOUT ROWID;

-- One run per (event, rule): re-processing an event cannot record a rule
-- twice. rule_name and the event's facts are copied so that a run reads
-- the same after the rule is renamed or deleted.
CREATE TABLE runs (
    id              TEXT    PRIMARY KEY,
    workspace_id    INTEGER NOT NULL,
    event_id        TEXT    NOT NULL,
    rule_id         INTEGER NOT NULL,
    rule_name       TEXT    NOT NULL,
    conversation_id TEXT,
    contact_id      TEXT,
    matched         INTEGER NOT NULL,
    executed        INTEGER NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('not_matched', 'pending', 'executed', 'failed')),
    result          TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    settled_at      INTEGER,
    event_type      TEXT    NOT NULL,
    event_source    TEXT    NOT NULL,
    channel_source  TEXT,
    UNIQUE (event_id, rule_id)
);
CREATE INDEX runs_list ON runs (workspace_id, created_at, id);
CREATE INDEX runs_rule ON runs (workspace_id, rule_id, created_at, id);

-- The outbox: one row per action to deliver, unique per (run, action).
CREATE TABLE deliveries (
    id              TEXT    PRIMARY KEY,
    workspace_id    INTEGER NOT NULL,
    run_id          TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    rule_id         INTEGER NOT NULL,
    action_index    INTEGER NOT NULL,
    conversation_id TEXT,
    contact_id      TEXT,
    action          TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'leased', 'succeeded', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    available_at    INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (run_id, action_index)
);
CREATE INDEX deliveries_due ON deliveries (available_at) WHERE status = 'pending';

-- A conversation's timeline.
CREATE TABLE activities (
    id              TEXT    PRIMARY KEY,
    workspace_id    INTEGER NOT NULL,
    conversation_id TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    rule_id         INTEGER NOT NULL,
    rule_name       TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    run_id          TEXT    NOT NULL,
    actions         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX activities_conversation ON activities (workspace_id, conversation_id, created_at, id);

-- What the engine has learned of each conversation. NULL means "not known
-- yet"; an upsert never replaces a known value with an unknown one.
CREATE TABLE conversations (
    workspace_id             INTEGER NOT NULL,
    id                       TEXT    NOT NULL,
    status                   TEXT,
    assignee_id              TEXT,
    tags                     TEXT, -- JSON array of names
    priority                 TEXT,
    last_customer_message_at INTEGER,
    last_team_response_at    INTEGER,
    updated_at               INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
) WITHOUT ROWID;

-- When a rule last matched a rollout key (cooldown_secs).
CREATE TABLE rule_cooldowns (
    rule_id      INTEGER NOT NULL,
    key          TEXT    NOT NULL,
    workspace_id INTEGER NOT NULL,
    matched_at   INTEGER NOT NULL,
    PRIMARY KEY (rule_id, key)
) WITHOUT ROWID;
