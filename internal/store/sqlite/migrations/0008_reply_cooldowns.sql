-- 0008 (SQLite): the per-recipient cooldown of automated replies. An
-- address that was sent (or decided to be sent) an automated reply is
-- not sent another for 60 minutes, whichever rule, event or node decides
-- it. The row names the event that decided it, so that re-processing
-- that event (after a crash) decides the same reply again.
CREATE TABLE reply_cooldowns (
    workspace_id INTEGER NOT NULL,
    address      TEXT    NOT NULL, -- lower-cased
    event_id     TEXT    NOT NULL,
    decided_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, address)
) WITHOUT ROWID;
