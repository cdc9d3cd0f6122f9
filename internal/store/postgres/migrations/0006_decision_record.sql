-- 0006 (PostgreSQL): the compact decision record (see internal/store/decisions.go).
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
ALTER TABLE events ADD COLUMN decided_rules text;
ALTER TABLE events ADD COLUMN decisions bytea;
ALTER TABLE runs ADD COLUMN rule_version integer NOT NULL DEFAULT 0;

CREATE TABLE run_rollups (
    workspace_id bigint NOT NULL,
    rule_id      bigint NOT NULL,
    hour         bigint NOT NULL, -- unix milliseconds / 3,600,000 of the runs' created_at
    evaluated    bigint NOT NULL,
    matched      bigint NOT NULL,
    executed     bigint NOT NULL,
    failed       bigint NOT NULL,
    PRIMARY KEY (workspace_id, rule_id, hour)
);

UPDATE events e SET decided_rules = d.ids
FROM (SELECT event_id, ',' || string_agg(rule_id::text, ',' ORDER BY rule_id) || ',' AS ids
      FROM runs GROUP BY event_id) d
WHERE d.event_id = e.id;

INSERT INTO run_rollups (workspace_id, rule_id, hour, evaluated, matched, executed, failed)
SELECT workspace_id, rule_id, (extract(epoch FROM created_at) * 1000)::bigint / 3600000, count(*),
       count(*) FILTER (WHERE matched), count(*) FILTER (WHERE status = 'executed'),
       count(*) FILTER (WHERE status = 'failed')
FROM runs GROUP BY 1, 2, 3;
