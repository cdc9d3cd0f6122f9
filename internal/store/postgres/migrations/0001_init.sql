-- 0001 (PostgreSQL): the directory (workspaces, members, tokens, tags,
-- contact lists), rules with the references that keep their tags and lists
-- alive, and the global control record.
--
-- Times are timestamptz holding whole milliseconds: the store truncates
-- every time it writes, so both dialects return the same values. JSON
-- documents the store re-encodes are jsonb; a rule's conditions are text,
-- because the contract returns them byte for byte as submitted and jsonb
-- would normalise them.
--
-- Child tables carry workspace_id and reference their parent by
-- (workspace_id, id), so the schema itself refuses a token of another
-- workspace's member or a rule that points at another workspace's tag.

CREATE TABLE workspaces (
    id                    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                  text        NOT NULL,
    timezone              text        NOT NULL DEFAULT 'UTC',
    actions_url           text,
    smtp                  jsonb,
    alert_webhook_url     text,
    alert_emails          jsonb       NOT NULL DEFAULT '[]',
    retention_days        integer     NOT NULL DEFAULT 30,
    secret                text        NOT NULL,
    previous_secret       text,
    previous_secret_until timestamptz,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    CONSTRAINT workspaces_name_key UNIQUE (name)
);

-- A deleted member is kept (deleted_at set) so that its revoked tokens still
-- authenticate as revoked rather than vanish, and so that its id is never
-- reused. Uniqueness only binds live members: the address can join again.
CREATE TABLE members (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id bigint      NOT NULL REFERENCES workspaces (id),
    name         text        NOT NULL,
    email        text        NOT NULL,
    email_key    text        NOT NULL, -- the e-mail lower-cased by the store: uniqueness ignores case
    role         text        NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    external_id  text,
    created_at   timestamptz NOT NULL,
    deleted_at   timestamptz,
    UNIQUE (workspace_id, id)
);
CREATE UNIQUE INDEX members_email_key ON members (workspace_id, email_key) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX members_external_id_key ON members (workspace_id, external_id)
    WHERE external_id IS NOT NULL AND deleted_at IS NULL;

CREATE TABLE tokens (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id bigint      NOT NULL,
    member_id    bigint      NOT NULL,
    name         text        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    hash         text        NOT NULL,
    hint         text        NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL,
    CONSTRAINT tokens_hash_key UNIQUE (hash),
    FOREIGN KEY (workspace_id, member_id) REFERENCES members (workspace_id, id)
);
CREATE INDEX tokens_member ON tokens (workspace_id, member_id);

CREATE TABLE tags (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id bigint      NOT NULL REFERENCES workspaces (id),
    name         text        NOT NULL,
    name_key     text        NOT NULL, -- the name lower-cased by the store
    external_id  text,
    created_at   timestamptz NOT NULL,
    UNIQUE (workspace_id, id),
    CONSTRAINT tags_name_key UNIQUE (workspace_id, name_key)
);
CREATE UNIQUE INDEX tags_external_id_key ON tags (workspace_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE contact_lists (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id bigint      NOT NULL REFERENCES workspaces (id),
    name         text        NOT NULL,
    name_key     text        NOT NULL, -- the name lower-cased by the store
    member_count integer     NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL,
    UNIQUE (workspace_id, id),
    CONSTRAINT contact_lists_name_key UNIQUE (workspace_id, name_key)
);

-- workspace_id is repeated here so that "which of these lists contain this
-- address" is one lookup in contact_list_members_email.
CREATE TABLE contact_list_members (
    workspace_id bigint      NOT NULL,
    list_id      bigint      NOT NULL,
    email        text        NOT NULL,
    added_at     timestamptz NOT NULL,
    PRIMARY KEY (list_id, email),
    FOREIGN KEY (workspace_id, list_id) REFERENCES contact_lists (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX contact_list_members_email ON contact_list_members (workspace_id, email, list_id);

-- Priorities are unique per workspace; the store shifts them through
-- negative values so that the constraint holds after every row.
CREATE TABLE rules (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id       bigint      NOT NULL REFERENCES workspaces (id),
    name               text        NOT NULL,
    description        text,
    is_active          boolean     NOT NULL,
    trigger_type       text        NOT NULL,
    trigger_data       text,
    conditions         text        NOT NULL, -- the bytes the client sent, verbatim
    actions            jsonb       NOT NULL,
    alert_settings     jsonb,
    schedule_settings  jsonb,
    priority           integer     NOT NULL,
    rollout_percentage integer     NOT NULL,
    stop_on_match      boolean     NOT NULL,
    cooldown_secs      integer     NOT NULL,
    match_count        bigint      NOT NULL DEFAULT 0,
    applied_count      bigint      NOT NULL DEFAULT 0,
    last_matched_at    timestamptz,
    last_applied_at    timestamptz,
    snoozed_until      timestamptz,
    activated_at       timestamptz NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    created_by         bigint,
    updated_by         bigint,
    UNIQUE (workspace_id, id),
    UNIQUE (workspace_id, priority)
);
CREATE INDEX rules_snoozed ON rules (workspace_id, snoozed_until) WHERE snoozed_until IS NOT NULL;

-- The tags a rule's actions use and the lists its conditions use. RESTRICT
-- keeps a referenced tag or list from being deleted even if a caller skips
-- the store's own check.
CREATE TABLE rule_tags (
    workspace_id bigint NOT NULL,
    rule_id      bigint NOT NULL,
    tag_id       bigint NOT NULL,
    PRIMARY KEY (rule_id, tag_id),
    FOREIGN KEY (workspace_id, rule_id) REFERENCES rules (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, tag_id) REFERENCES tags (workspace_id, id) ON DELETE RESTRICT
);
CREATE INDEX rule_tags_tag ON rule_tags (workspace_id, tag_id);

CREATE TABLE rule_contact_lists (
    workspace_id bigint NOT NULL,
    rule_id      bigint NOT NULL,
    list_id      bigint NOT NULL,
    PRIMARY KEY (rule_id, list_id),
    FOREIGN KEY (workspace_id, rule_id) REFERENCES rules (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, list_id) REFERENCES contact_lists (workspace_id, id) ON DELETE RESTRICT
);
CREATE INDEX rule_contact_lists_list ON rule_contact_lists (workspace_id, list_id);

CREATE TABLE controls (
    workspace_id bigint      PRIMARY KEY REFERENCES workspaces (id),
    is_paused    boolean     NOT NULL,
    pause_reason text,
    paused_until timestamptz,
    updated_at   timestamptz NOT NULL,
    updated_by   bigint
);
