-- 0008 (PostgreSQL): the per-recipient cooldown of automated replies. An
-- address that was sent (or decided to be sent) an automated reply is
-- not sent another for 60 minutes, whichever rule, event or node decides
-- it. The row names the event that decided it, so that re-processing
-- that event (after a crash) decides the same reply again. Two nodes
-- deciding at once queue on the primary key; the second sees the first's
-- row and is refused.
CREATE TABLE reply_cooldowns (
    workspace_id bigint      NOT NULL,
    address      text        NOT NULL, -- lower-cased
    event_id     text        NOT NULL,
    decided_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, address)
);
