-- 0002 (PostgreSQL): the event queue and what processing leaves behind —
-- runs, deliveries (the outbox), conversation timelines and state,
-- cooldowns — and the idempotency keys of ingestion.
--
-- Ids of events, runs, deliveries and activity entries are UUIDv7 held in
-- the uuid type: 16 bytes, compared as bytes, so they sort exactly as
-- their text form does in SQLite. An event's payload is bytea: the
-- contract stores it verbatim, which jsonb would not (it reorders keys)
-- and text could not for every byte sequence a host may send. Documents
-- the store writes itself (results, actions, tags) are text: they are
-- returned, never queried, and jsonb would only cost parsing on the hot
-- path.
--
-- The derived tables (runs, deliveries, activities) carry workspace_id but
-- no foreign key to events: they are only ever written by CompleteEvents,
-- in the transaction that checked the event's lease, and a foreign-key
-- trigger per row would cost the hot path for nothing. Rule counters are
-- the columns rules already has (0001).

-- Every claim draws a fence from here, so a fence is never handed out
-- twice, for any event.
CREATE SEQUENCE event_fences;

CREATE TABLE events (
    id               uuid        PRIMARY KEY,
    workspace_id     bigint      NOT NULL REFERENCES workspaces (id),
    event_type       text        NOT NULL,
    conversation_id  text,
    contact_id       text,
    payload          bytea       NOT NULL, -- the bytes the host sent, verbatim
    payload_hash     text        NOT NULL,
    source           text        NOT NULL,
    channel_source   text,
    caused_by        text,
    status           text        NOT NULL CHECK (status IN ('pending', 'processing', 'processed', 'skipped', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    available_at     timestamptz NOT NULL,
    occurred_at      timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    processed_at     timestamptz,
    error            text,
    -- conversation_id, else contact_id, else id: events sharing it are
    -- processed one at a time in (created_at, id) order.
    order_key        text        NOT NULL,
    target_rule_id   bigint,
    hops             integer     NOT NULL DEFAULT 0,
    caused_by_rules  bigint[],
    lease_owner      text,
    lease_fence      bigint,
    lease_expires_at timestamptz
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
-- At most one event of an order key is processing. The claim query keeps
-- to it; the index makes it hold against any interleaving of claims and
-- retries across nodes (see ClaimEvents).
CREATE UNIQUE INDEX events_one_processing ON events (workspace_id, order_key) WHERE status = 'processing';
-- Every event changes state twice on its way through the queue. Vacuum
-- often, so that claims do not walk the dead entries this leaves in the
-- queue's indexes, and analyze often, so that the planner knows the
-- backlog (the claim pins its plan anyway: see claimPlan).
ALTER TABLE events SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02);

-- A key is honoured for 24 hours; an older row is replaced by the next
-- request that uses the key.
CREATE TABLE idempotency_keys (
    workspace_id bigint      NOT NULL,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    event_id     uuid        NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, key)
);

-- One run per (event, rule): re-processing an event cannot record a rule
-- twice. rule_name and the event's facts are copied so that a run reads
-- the same after the rule is renamed or deleted.
CREATE TABLE runs (
    id              uuid        PRIMARY KEY,
    workspace_id    bigint      NOT NULL,
    event_id        uuid        NOT NULL,
    rule_id         bigint      NOT NULL,
    rule_name       text        NOT NULL,
    conversation_id text,
    contact_id      text,
    matched         boolean     NOT NULL,
    executed        boolean     NOT NULL,
    status          text        NOT NULL CHECK (status IN ('not_matched', 'pending', 'executed', 'failed')),
    result          text        NOT NULL,
    created_at      timestamptz NOT NULL,
    settled_at      timestamptz,
    event_type      text        NOT NULL,
    event_source    text        NOT NULL,
    channel_source  text,
    CONSTRAINT runs_event_rule_key UNIQUE (event_id, rule_id)
);
CREATE INDEX runs_list ON runs (workspace_id, created_at, id);
CREATE INDEX runs_rule ON runs (workspace_id, rule_id, created_at, id);

-- The outbox: one row per action to deliver, unique per (run, action).
CREATE TABLE deliveries (
    id              uuid        PRIMARY KEY,
    workspace_id    bigint      NOT NULL,
    run_id          uuid        NOT NULL,
    event_id        uuid        NOT NULL,
    rule_id         bigint      NOT NULL,
    action_index    integer     NOT NULL,
    conversation_id text,
    contact_id      text,
    action          text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('pending', 'leased', 'succeeded', 'failed', 'skipped')),
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    available_at    timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    CONSTRAINT deliveries_run_action_key UNIQUE (run_id, action_index)
);
CREATE INDEX deliveries_due ON deliveries (available_at) WHERE status = 'pending';

-- A conversation's timeline.
CREATE TABLE activities (
    id              uuid        PRIMARY KEY,
    workspace_id    bigint      NOT NULL,
    conversation_id text        NOT NULL,
    kind            text        NOT NULL,
    rule_id         bigint      NOT NULL,
    rule_name       text        NOT NULL,
    event_id        uuid        NOT NULL,
    run_id          uuid        NOT NULL,
    actions         text        NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX activities_conversation ON activities (workspace_id, conversation_id, created_at, id);

-- What the engine has learned of each conversation. NULL means "not known
-- yet"; an upsert never replaces a known value with an unknown one.
CREATE TABLE conversations (
    workspace_id             bigint      NOT NULL,
    id                       text        NOT NULL,
    status                   text,
    assignee_id              text,
    tags                     text, -- JSON array of names
    priority                 text,
    last_customer_message_at timestamptz,
    last_team_response_at    timestamptz,
    updated_at               timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id)
);

-- When a rule last matched a rollout key (cooldown_secs).
CREATE TABLE rule_cooldowns (
    rule_id      bigint      NOT NULL,
    key          text        NOT NULL,
    workspace_id bigint      NOT NULL,
    matched_at   timestamptz NOT NULL,
    PRIMARY KEY (rule_id, key)
);
