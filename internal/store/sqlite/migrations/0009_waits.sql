-- 0009: the waiting stretches of time-based triggers (see
-- internal/store/waits.go). One row per (conversation, rule): the stretch
-- in progress, kept once fired so that the rule fires once per stretch.
-- waits_due holds only the waits not fired yet, so the scheduler's tick
-- reads what is due without walking what is not.
CREATE TABLE waits (
    workspace_id    INTEGER NOT NULL,
    conversation_id TEXT NOT NULL,
    rule_id         INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('team', 'client')),
    since           INTEGER NOT NULL,
    due_at          INTEGER NOT NULL,
    payload         TEXT NOT NULL,
    fired           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, conversation_id, rule_id)
);
CREATE INDEX waits_due ON waits (due_at) WHERE NOT fired;
