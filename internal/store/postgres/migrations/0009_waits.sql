-- 0009: the waiting stretches of time-based triggers (see
-- internal/store/waits.go). One row per (conversation, rule): the stretch
-- in progress, kept once fired so that the rule fires once per stretch.
-- waits_due holds only the waits not fired yet, so the scheduler's tick
-- reads what is due without walking what is not.
CREATE TABLE waits (
    workspace_id    bigint NOT NULL,
    conversation_id text NOT NULL,
    rule_id         bigint NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('team', 'client')),
    since           timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    payload         text NOT NULL,
    fired           boolean NOT NULL DEFAULT false,
    PRIMARY KEY (workspace_id, conversation_id, rule_id)
);
CREATE INDEX waits_due ON waits (due_at) WHERE NOT fired;
