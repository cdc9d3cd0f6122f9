-- 0005 (PostgreSQL): rule priorities within 0..1000000, and rule history.
--
-- Priorities used to be any integer, and shifting one at 2147483647 met
-- the placeholder the shift used (so a rule could be left at
-- -2147483648, first instead of last). The workspaces holding a priority
-- outside the range get their rules renumbered 0, 1, 2, … in their
-- current order; the others keep theirs. The renumbering passes through
-- negative values because UNIQUE (workspace_id, priority) is checked row
-- by row.
CREATE TEMP TABLE rule_ranks ON COMMIT DROP AS
SELECT id, row_number() OVER (PARTITION BY workspace_id ORDER BY priority, id) AS rank
FROM rules
WHERE workspace_id IN (SELECT workspace_id FROM rules WHERE priority < 0 OR priority > 1000000);
UPDATE rules SET priority = -1000000000 - k.rank FROM rule_ranks k WHERE k.id = rules.id;
UPDATE rules SET priority = -1000000001 - priority FROM rule_ranks k WHERE k.id = rules.id;

-- Every change of a rule's definition is a version: the rule carries its
-- number, rule_versions keeps each one (the whole rule right after the
-- change, as JSON, see store.versionDoc). Versions outlive their rule, so
-- that old runs can show it as it was: no foreign key to rules.
ALTER TABLE rules ADD COLUMN version integer NOT NULL DEFAULT 1;

CREATE TABLE rule_versions (
    workspace_id   bigint      NOT NULL REFERENCES workspaces (id),
    rule_id        bigint      NOT NULL,
    version        integer     NOT NULL,
    changed_at     timestamptz NOT NULL,
    changed_by     bigint,
    changed_fields text        NOT NULL, -- JSON array of the API's field names
    definition     text        NOT NULL,
    PRIMARY KEY (workspace_id, rule_id, version)
);

-- The rules that predate history start with their current state as
-- version 1 (times as unix milliseconds, as store.versionDoc keeps them).
INSERT INTO rule_versions (workspace_id, rule_id, version, changed_at, changed_by, changed_fields, definition)
SELECT workspace_id, id, 1, updated_at, updated_by,
    '["name","description","is_active","trigger_type","trigger_data","conditions","actions","alert_settings","schedule_settings","priority","rollout_percentage","stop_on_match","cooldown_secs"]',
    jsonb_build_object(
        'name', name, 'description', description, 'is_active', is_active,
        'trigger_type', trigger_type, 'trigger_data', trigger_data,
        'conditions', conditions, 'actions', actions,
        'alert_settings', alert_settings, 'schedule_settings', schedule_settings,
        'priority', priority, 'rollout_percentage', rollout_percentage,
        'stop_on_match', stop_on_match, 'cooldown_secs', cooldown_secs,
        'match_count', match_count, 'applied_count', applied_count,
        'last_matched_at', (extract(epoch FROM last_matched_at) * 1000)::bigint,
        'last_applied_at', (extract(epoch FROM last_applied_at) * 1000)::bigint,
        'snoozed_until', (extract(epoch FROM snoozed_until) * 1000)::bigint,
        'activated_at', (extract(epoch FROM activated_at) * 1000)::bigint,
        'created_at', (extract(epoch FROM created_at) * 1000)::bigint,
        'updated_at', (extract(epoch FROM updated_at) * 1000)::bigint,
        'created_by', created_by, 'updated_by', updated_by)::text
FROM rules;
