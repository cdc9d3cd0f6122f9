-- 0004 (PostgreSQL): workspace names become display names, and every
-- workspace gets the version its compiled rules are checked against.
--
-- A workspace's name is not a key (two tenants may choose the same one,
-- and no answer may reveal that another tenant uses a name).
--
-- rules_version moves inside every transaction that changes what the
-- workspace's compiled rules depend on (rules, the control record, tags,
-- members, contact lists), together with the NOTIFY that tells the other
-- nodes: a node that missed the notification (its listening connection
-- was down, or the node that made the change died) still sees the
-- version move when it checks its cache.
ALTER TABLE workspaces DROP CONSTRAINT workspaces_name_key;
CREATE INDEX workspaces_name ON workspaces (name);
ALTER TABLE workspaces ADD COLUMN rules_version bigint NOT NULL DEFAULT 0;
