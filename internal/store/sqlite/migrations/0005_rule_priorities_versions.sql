-- 0005 (SQLite): rule priorities within 0..1000000, and rule history.
--
-- Priorities used to be any integer, and shifting them could push one
-- past int64 (SQLite then keeps a REAL, which no read can convert back).
-- The workspaces holding a priority outside the range, or one that is not
-- an integer, get their rules renumbered 0, 1, 2, … in their current
-- order; the others keep theirs. The renumbering passes through negative
-- values because UNIQUE (workspace_id, priority) is checked row by row.
CREATE TEMP TABLE rule_ranks AS
SELECT id, row_number() OVER (PARTITION BY workspace_id ORDER BY priority, id) AS rank
FROM rules
WHERE workspace_id IN (
    SELECT workspace_id FROM rules
    WHERE typeof(priority) <> 'integer' OR priority < 0 OR priority > 1000000);
UPDATE rules SET priority = -1000000000000 - (SELECT rank FROM rule_ranks WHERE rule_ranks.id = rules.id)
WHERE id IN (SELECT id FROM rule_ranks);
UPDATE rules SET priority = -1000000000001 - priority
WHERE id IN (SELECT id FROM rule_ranks);
DROP TABLE rule_ranks;

-- Every change of a rule's definition is a version: the rule carries its
-- number, rule_versions keeps each one (the whole rule right after the
-- change, as JSON, see store.versionDoc). Versions outlive their rule, so
-- that old runs can show it as it was: no foreign key to rules.
ALTER TABLE rules ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

CREATE TABLE rule_versions (
    workspace_id   INTEGER NOT NULL REFERENCES workspaces (id),
    rule_id        INTEGER NOT NULL,
    version        INTEGER NOT NULL,
    changed_at     INTEGER NOT NULL,
    changed_by     INTEGER,
    changed_fields TEXT    NOT NULL, -- JSON array of the API's field names
    definition     TEXT    NOT NULL,
    PRIMARY KEY (workspace_id, rule_id, version)
) WITHOUT ROWID;

-- The rules that predate history start with their current state as
-- version 1.
INSERT INTO rule_versions (workspace_id, rule_id, version, changed_at, changed_by, changed_fields, definition)
SELECT workspace_id, id, 1, updated_at, updated_by,
    '["name","description","is_active","trigger_type","trigger_data","conditions","actions","alert_settings","schedule_settings","priority","rollout_percentage","stop_on_match","cooldown_secs"]',
    json_object(
        'name', name, 'description', description,
        'is_active', json(CASE WHEN is_active THEN 'true' ELSE 'false' END),
        'trigger_type', trigger_type, 'trigger_data', trigger_data,
        'conditions', conditions, 'actions', json(actions),
        'alert_settings', json(alert_settings), 'schedule_settings', json(schedule_settings),
        'priority', priority, 'rollout_percentage', rollout_percentage,
        'stop_on_match', json(CASE WHEN stop_on_match THEN 'true' ELSE 'false' END),
        'cooldown_secs', cooldown_secs, 'match_count', match_count, 'applied_count', applied_count,
        'last_matched_at', last_matched_at, 'last_applied_at', last_applied_at,
        'snoozed_until', snoozed_until, 'activated_at', activated_at,
        'created_at', created_at, 'updated_at', updated_at,
        'created_by', created_by, 'updated_by', updated_by)
FROM rules;
