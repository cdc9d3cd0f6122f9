-- 0006 (SQLite): the compact decision record (see internal/store/decisions.go).
--
-- A run that did not match no longer costs a row of runs with its key and
-- indexes: an event's decisions are two columns of its own row, written
-- by the UPDATE that completes it. Matched runs stay rows (their actions
-- settle later); they now say which version of the rule made them.
-- run_rollups counts each rule's runs per hour, so that listing totals
-- (and the statistics) never count runs one by one.
--
-- Events completed before this step have no record: their runs are the
-- rows they left (read as they were), decided_rules is filled in from
-- them so that "events for which rule R recorded a run" still finds
-- them, and their counts go into the rollups.
ALTER TABLE events ADD COLUMN decided_rules TEXT;
ALTER TABLE events ADD COLUMN decisions BLOB;
ALTER TABLE runs ADD COLUMN rule_version INTEGER NOT NULL DEFAULT 0;

CREATE TABLE run_rollups (
    workspace_id INTEGER NOT NULL,
    rule_id      INTEGER NOT NULL,
    hour         INTEGER NOT NULL, -- unix milliseconds / 3,600,000 of the runs' created_at
    evaluated    INTEGER NOT NULL,
    matched      INTEGER NOT NULL,
    executed     INTEGER NOT NULL,
    failed       INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, rule_id, hour)
) WITHOUT ROWID;

UPDATE events SET decided_rules = (
    SELECT ',' || group_concat(rule_id, ',') || ',' FROM (
        SELECT r.rule_id FROM runs r WHERE r.event_id = events.id ORDER BY r.rule_id))
WHERE EXISTS (SELECT 1 FROM runs r WHERE r.event_id = events.id);

INSERT INTO run_rollups (workspace_id, rule_id, hour, evaluated, matched, executed, failed)
SELECT workspace_id, rule_id, created_at / 3600000, count(*), sum(matched),
       sum(status = 'executed'), sum(status = 'failed')
FROM runs GROUP BY workspace_id, rule_id, created_at / 3600000;
