-- 0001 (SQLite): the directory (workspaces, members, tokens, tags, contact
-- lists), rules with the references that keep their tags and lists alive,
-- and the global control record.
--
-- Times are INTEGER unix milliseconds in UTC: text timestamps compare wrongly
-- and silently. JSON documents are TEXT. Every id column is AUTOINCREMENT so
-- an id is never handed out twice: runs and statistics keep a deleted rule's
-- id, and a new rule must not inherit them.
--
-- Child tables carry workspace_id and reference their parent by
-- (workspace_id, id), so the schema itself refuses a token of another
-- workspace's member or a rule that points at another workspace's tag.

CREATE TABLE workspaces (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    name                  TEXT    NOT NULL UNIQUE,
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
    updated_at            INTEGER NOT NULL
);

-- A deleted member is kept (deleted_at set) so that its revoked tokens still
-- authenticate as revoked rather than vanish, and so that its id is never
-- reused. Uniqueness only binds live members: the address can join again.
CREATE TABLE members (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    name         TEXT    NOT NULL,
    email        TEXT    NOT NULL,
    email_key    TEXT    NOT NULL, -- the e-mail lower-cased by the store: uniqueness ignores case
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    external_id  TEXT,
    created_at   INTEGER NOT NULL,
    deleted_at   INTEGER,
    UNIQUE (workspace_id, id)
);
CREATE UNIQUE INDEX members_email_key ON members (workspace_id, email_key) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX members_external_id ON members (workspace_id, external_id)
    WHERE external_id IS NOT NULL AND deleted_at IS NULL;

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL,
    member_id    INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    hash         TEXT    NOT NULL UNIQUE,
    hint         TEXT    NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    created_at   INTEGER NOT NULL,
    FOREIGN KEY (workspace_id, member_id) REFERENCES members (workspace_id, id)
);
CREATE INDEX tokens_member ON tokens (workspace_id, member_id);

CREATE TABLE tags (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    name         TEXT    NOT NULL,
    name_key     TEXT    NOT NULL, -- the name lower-cased by the store
    external_id  TEXT,
    created_at   INTEGER NOT NULL,
    UNIQUE (workspace_id, id),
    UNIQUE (workspace_id, name_key)
);
CREATE UNIQUE INDEX tags_external_id ON tags (workspace_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE contact_lists (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    name         TEXT    NOT NULL,
    name_key     TEXT    NOT NULL, -- the name lower-cased by the store
    member_count INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    UNIQUE (workspace_id, id),
    UNIQUE (workspace_id, name_key)
);

-- workspace_id is repeated here so that "which of these lists contain this
-- address" is one lookup in contact_list_members_email.
CREATE TABLE contact_list_members (
    workspace_id INTEGER NOT NULL,
    list_id      INTEGER NOT NULL,
    email        TEXT    NOT NULL,
    added_at     INTEGER NOT NULL,
    PRIMARY KEY (list_id, email),
    FOREIGN KEY (workspace_id, list_id) REFERENCES contact_lists (workspace_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX contact_list_members_email ON contact_list_members (workspace_id, email, list_id);

-- Priorities are unique per workspace; the store shifts them through
-- negative values so that the constraint holds after every statement.
CREATE TABLE rules (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id       INTEGER NOT NULL REFERENCES workspaces (id),
    name               TEXT    NOT NULL,
    description        TEXT,
    is_active          INTEGER NOT NULL,
    trigger_type       TEXT    NOT NULL,
    trigger_data       TEXT,
    conditions         TEXT    NOT NULL, -- the bytes the client sent, verbatim
    actions            TEXT    NOT NULL,
    alert_settings     TEXT,
    schedule_settings  TEXT,
    priority           INTEGER NOT NULL,
    rollout_percentage INTEGER NOT NULL,
    stop_on_match      INTEGER NOT NULL,
    cooldown_secs      INTEGER NOT NULL,
    match_count        INTEGER NOT NULL DEFAULT 0,
    applied_count      INTEGER NOT NULL DEFAULT 0,
    last_matched_at    INTEGER,
    last_applied_at    INTEGER,
    snoozed_until      INTEGER,
    activated_at       INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    created_by         INTEGER,
    updated_by         INTEGER,
    UNIQUE (workspace_id, id),
    UNIQUE (workspace_id, priority)
);
CREATE INDEX rules_snoozed ON rules (workspace_id, snoozed_until) WHERE snoozed_until IS NOT NULL;

-- The tags a rule's actions use and the lists its conditions use. RESTRICT
-- keeps a referenced tag or list from being deleted even if a caller skips
-- the store's own check.
CREATE TABLE rule_tags (
    workspace_id INTEGER NOT NULL,
    rule_id      INTEGER NOT NULL,
    tag_id       INTEGER NOT NULL,
    PRIMARY KEY (rule_id, tag_id),
    FOREIGN KEY (workspace_id, rule_id) REFERENCES rules (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, tag_id) REFERENCES tags (workspace_id, id) ON DELETE RESTRICT
) WITHOUT ROWID;
CREATE INDEX rule_tags_tag ON rule_tags (workspace_id, tag_id);

CREATE TABLE rule_contact_lists (
    workspace_id INTEGER NOT NULL,
    rule_id      INTEGER NOT NULL,
    list_id      INTEGER NOT NULL,
    PRIMARY KEY (rule_id, list_id),
    FOREIGN KEY (workspace_id, rule_id) REFERENCES rules (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, list_id) REFERENCES contact_lists (workspace_id, id) ON DELETE RESTRICT
) WITHOUT ROWID;
CREATE INDEX rule_contact_lists_list ON rule_contact_lists (workspace_id, list_id);

CREATE TABLE controls (
    workspace_id INTEGER PRIMARY KEY REFERENCES workspaces (id),
    is_paused    INTEGER NOT NULL,
    pause_reason TEXT,
    paused_until INTEGER,
    updated_at   INTEGER NOT NULL,
    updated_by   INTEGER
);
