-- foreign_keys: off
-- 0004 (SQLite): workspace names become display names, and every
-- workspace gets the version its compiled rules are checked against.
--
-- A workspace's name is not a key (two tenants may choose the same one,
-- and no answer may reveal that another tenant uses a name), so its
-- UNIQUE constraint goes. SQLite cannot drop a column constraint: the
-- table is rebuilt (the documented create-copy-drop-rename procedure,
-- which needs foreign keys off while the children's references move to
-- the new table; the runner checks them before committing).
--
-- rules_version moves inside every transaction that changes what the
-- workspace's compiled rules depend on (rules, the control record, tags,
-- members, contact lists), so a cached compilation can be checked with
-- one read.

CREATE TABLE workspaces_new (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    name                  TEXT    NOT NULL,
    timezone              TEXT    NOT NULL DEFAULT 'UTC',
    actions_url           TEXT,
    smtp                  TEXT,
    alert_webhook_url     TEXT,
    alert_emails          TEXT    NOT NULL DEFAULT '[]',
    retention_days        INTEGER NOT NULL DEFAULT 30,
    secret                TEXT    NOT NULL,
    previous_secret       TEXT,
    previous_secret_until INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    rules_version         INTEGER NOT NULL DEFAULT 0
);
INSERT INTO workspaces_new (id, name, timezone, actions_url, smtp, alert_webhook_url, alert_emails,
    retention_days, secret, previous_secret, previous_secret_until, created_at, updated_at)
SELECT id, name, timezone, actions_url, smtp, alert_webhook_url, alert_emails,
    retention_days, secret, previous_secret, previous_secret_until, created_at, updated_at
FROM workspaces;
DROP TABLE workspaces;
ALTER TABLE workspaces_new RENAME TO workspaces;
CREATE INDEX workspaces_name ON workspaces (name);
