package httpapi

import "github.com/switchboard-hq/switchboard/internal/engine"

// routeTable is every endpoint of the server, in one place. The mux, the
// role test and the OpenAPI document are all built from it, so none of
// them can drift from the others.
func (a *API) routeTable() []Route {
	pageParams := []Param{
		{"page", "integer", "page number, from 1"},
		{"per_page", "integer", "rows per page, 1..500 (default 50)"},
	}
	ruleFilters := []Param{
		{"is_active", "boolean", "only active (true) or inactive (false) rules"},
		{"trigger_type", "string", "only rules of this trigger"},
	}
	listParams := func(events bool) []Param {
		sorts := "created_at (default) or id"
		if events {
			sorts = "created_at (default), id, processed_at or attempts (offset mode only)"
		}
		return append([]Param{
			{"cursor", "string", "created_at|id of the last row (next_cursor); only with sort_by=created_at"},
			{"sort_by", "string", sorts},
			{"sort_order", "string", "desc (default) or asc"},
		}, pageParams...)
	}
	const (
		tagHealth    = "Health"
		tagRules     = "Rules"
		tagControl   = "Global control"
		tagMembers   = "Members"
		tagTokens    = "Tokens"
		tagWorkspace = "Workspace"
		tagTags      = "Tags"
		tagLists     = "Contact lists"
		tagEvents    = "Events and runs"
	)
	return append([]Route{
		// Health and documentation: no credentials.
		{Method: "GET", Path: "/healthz", Policy: &public, Handler: a.healthz,
			Doc: Doc{Summary: "The process is up", Tag: tagHealth, Response: healthResponse{}}},
		{Method: "GET", Path: "/readyz", Policy: &public, Handler: a.readyz,
			Doc: Doc{Summary: "The store is reachable and migrated", Tag: tagHealth, Response: healthResponse{}, Errors: []int{503}}},
		{Method: "GET", Path: "/metrics", Policy: &public, Handler: a.metricsHandler,
			Doc: Doc{Summary: "Prometheus metrics", Tag: tagHealth, Raw: "text/plain"}},
		{Method: "GET", Path: "/openapi.json", Policy: &public, Handler: a.openAPIHandler,
			Doc: Doc{Summary: "This document (OpenAPI 3.1)", Tag: tagHealth, Raw: "application/json"}},
		// The interactive API reference (docs_handlers.go): the page, and
		// the files it loads, all embedded in the binary.
		{Method: "GET", Path: "/docs", Policy: &public, Handler: a.docsPage,
			Doc: Doc{Summary: "Interactive API reference (Swagger UI) rendering /openapi.json", Tag: "Documentation", Raw: "text/html"}},
		{Method: "GET", Path: "/docs/{file}", Policy: &public, Handler: a.docsFile,
			Doc: Doc{Summary: "A file the reference page loads (script, stylesheet, licence)", Tag: "Documentation", Raw: "text/*",
				StringPath: true, Notes: []string{docsFilesNote()}}},

		// Rules (docs/concepts.md#rules).
		{Method: "GET", Path: "/v1/automation/rules", Policy: &supervisorOrUp, Handler: a.listRules,
			Doc: Doc{Summary: "List every rule, by priority then id", Tag: tagRules, Response: wholeList[ruleResponse]{}, Query: ruleFilters}},
		{Method: "POST", Path: "/v1/automation/rules", Policy: &supervisorOrUp, Handler: a.createRule,
			Doc: Doc{Summary: "Create a rule", Tag: tagRules, Request: ruleWrite{}, Response: ruleResponse{}, Status: 201,
				Notes: []string{"A taken priority shifts every rule at or after it down by one; without priority the rule goes last.",
					"Omitted alert_settings fields take the `default` preset's values."}}},
		{Method: "POST", Path: "/v1/automation/rules/dry-run", Policy: &supervisorOrUp, Handler: a.dryRun,
			Doc: Doc{Summary: "Evaluate a saved rule (rule_id) or an unsaved one against a payload; nothing is persisted", Tag: tagRules,
				Request: dryRunBody{}, Response: engine.DryRunResult{},
				Notes: []string{"Evaluates trigger, trigger_data, conditions and rollout (an unsaved rule hashes as rule id 0); reports the effective state without applying it, nor cooldowns.",
					"Bounded like an event (and /test): matches reads a value's first 64 KiB; evaluation has a budget of 50,000,000 work units (a unit per condition, per byte a string operator reads, pattern bytes × RE2 instructions × 40 for matches, 45 per byte of a stripped body): a condition that would exceed it is not computed and the reason is evaluation_limit."}}},
		{Method: "POST", Path: "/v1/automation/rules/{id}/test", Policy: &supervisorOrUp, Handler: a.testRule,
			Doc: Doc{Summary: "Dry-run a saved rule as an event of its own trigger", Tag: tagRules, Request: testBody{}, Response: engine.DryRunResult{}}},
		{Method: "POST", Path: "/v1/automation/rules/reorder", Policy: &supervisorOrUp, Handler: a.reorderRules,
			Doc: Doc{Summary: "Reorder every rule", Tag: tagRules, Request: reorderBody{}, Response: wholeList[ruleResponse]{}}},
		{Method: "GET", Path: "/v1/automation/rules/snoozed", Policy: &supervisorOrUp, Handler: a.listSnoozedRules,
			Doc: Doc{Summary: "List the rules snoozed now", Tag: tagRules, Response: envelope[ruleResponse]{}, Query: append(ruleFilters, pageParams...)}},
		{Method: "GET", Path: "/v1/automation/rules/{id}", Policy: &supervisorOrUp, Handler: a.getRule,
			Doc: Doc{Summary: "Get a rule", Tag: tagRules, Response: ruleResponse{}}},
		{Method: "PATCH", Path: "/v1/automation/rules/{id}", Policy: &supervisorOrUp, Handler: a.updateRule,
			Doc: Doc{Summary: "Update a rule (absent fields unchanged, null clears; nested objects merge)", Tag: tagRules, Request: ruleWrite{}, Response: ruleResponse{}, Errors: []int{409}}},
		{Method: "PUT", Path: "/v1/automation/rules/{id}", Policy: &supervisorOrUp, Handler: a.updateRule,
			Doc: Doc{Summary: "Update a rule (same partial semantics as PATCH)", Tag: tagRules, Request: ruleWrite{}, Response: ruleResponse{}}},
		{Method: "DELETE", Path: "/v1/automation/rules/{id}", Policy: &supervisorOrUp, Handler: a.deleteRule,
			Doc: Doc{Summary: "Delete a rule (its runs and statistics stay)", Tag: tagRules, Status: 204}},
		{Method: "POST", Path: "/v1/automation/rules/{id}/snooze", Policy: &supervisorOrUp, Handler: a.snoozeRule,
			Doc: Doc{Summary: "Snooze a rule until a time (future, within 366 days)", Tag: tagRules, Request: snoozeBody{}, Response: snoozeResponse{}}},
		{Method: "DELETE", Path: "/v1/automation/rules/{id}/snooze", Policy: &supervisorOrUp, Handler: a.unsnoozeRule,
			Doc: Doc{Summary: "End a rule's snooze (idempotent)", Tag: tagRules, Response: snoozeResponse{}}},
		{Method: "GET", Path: "/v1/automation/rules/{id}/effective-state", Policy: &supervisorOrUp, Handler: a.getEffectiveState,
			Doc: Doc{Summary: "Whether the rule runs now, and why not", Tag: tagRules, Response: effectiveState{}}},
		{Method: "PUT", Path: "/v1/automation/rules/{id}/alert-settings", Policy: &supervisorOrUp, Handler: a.putAlertSettings,
			Doc: Doc{Summary: "Set alert settings from a preset (off, default, strict, relaxed) or explicitly", Tag: tagRules, Request: alertSettingsBody{}, Response: ruleResponse{}}},
		{Method: "PUT", Path: "/v1/automation/rules/{id}/schedule-settings", Policy: &supervisorOrUp, Handler: a.putScheduleSettings,
			Doc: Doc{Summary: "Set or remove (null) the rule's schedule", Tag: tagRules, Request: scheduleSettingsBody{}, Response: ruleResponse{}}},
		{Method: "PUT", Path: "/v1/automation/rules/{id}/rollout", Policy: &supervisorOrUp, Handler: a.putRollout,
			Doc: Doc{Summary: "Set the rollout percentage", Tag: tagRules, Request: rolloutBody{}, Response: ruleResponse{}}},
		{Method: "GET", Path: "/v1/automation/rules/{id}/versions", Policy: &supervisorOrUp, Handler: a.listRuleVersions,
			Doc: Doc{Summary: "List a rule's versions, newest first (also of a deleted rule)", Tag: tagRules,
				Response: envelope[ruleVersionResponse]{}, Query: pageParams,
				Notes: []string{"Every change of the definition through any API is a version, with who, when and which fields changed; snoozes and counters are not."}}},
		{Method: "GET", Path: "/v1/automation/rules/{id}/versions/{n}", Policy: &supervisorOrUp, Handler: a.getRuleVersion,
			Doc: Doc{Summary: "Get one version of a rule (also of a deleted rule)", Tag: tagRules, Response: ruleVersionResponse{}}},
		{Method: "POST", Path: "/v1/automation/rules/{id}/versions/{n}/restore", Policy: &supervisorOrUp, Handler: a.restoreRuleVersion,
			Doc: Doc{Summary: "Make a new version whose definition is version n's; priority and counters stay", Tag: tagRules,
				Response: ruleResponse{}, Errors: []int{422},
				Notes: []string{"A tag or contact list that version uses and that no longer exists: 422 naming it, and nothing changes."}}},
		{Method: "GET", Path: "/v1/automation/rules/{id}/schedule/preview", Policy: &supervisorOrUp, Handler: a.previewSchedule,
			Doc: Doc{Summary: "The rule's active windows in [start_at, start_at + hours)", Tag: tagRules, Response: schedulePreview{},
				Query: []Param{{"hours", "integer", "1..2160, default 168"}, {"start_at", "string", "RFC 3339 time, default now"}}}},

		// Events and runs (docs/concepts.md#events).
		{Method: "POST", Path: "/v1/automation/events", Policy: &anyRole, Handler: a.ingestEvent,
			Doc: Doc{Summary: "Ingest an event; 202 once it is durably stored", Tag: tagEvents, Request: eventIn{}, Response: ingestedResponse{}, Status: 202,
				Notes: []string{"An Idempotency-Key header (kept 24 h) makes a retry return the first event with 200 and duplicate: true; the same key with a different body is 422.",
					"payload_hash is the SHA-256 of the payload in RFC 8785 canonical JSON."}}},
		{Method: "POST", Path: "/v1/automation/events/batch", Policy: &anyRole, Handler: a.ingestBatch,
			Doc: Doc{Summary: "Ingest 1 to 500 events at once, all or none (body up to 16 MiB)", Tag: tagEvents, Request: batchIn{}, Response: wholeList[ingestedResponse]{}, Status: 202}},
		{Method: "GET", Path: "/v1/automation/events", Policy: &supervisorOrUp, Handler: a.listEvents,
			Doc: Doc{Summary: "List events", Tag: tagEvents, Response: envelope[eventResponse]{}, Query: append([]Param{
				{"status", "string", "pending, processing, processed, skipped or failed"}, {"event_type", "string", ""}, {"source", "string", ""},
				{"payload_hash", "string", "64 hex characters"}}, listParams(true)...)}},
		{Method: "GET", Path: "/v1/automation/events/{id}", Policy: &supervisorOrUp, Handler: a.getEvent,
			Doc: Doc{Summary: "Get an event", Tag: tagEvents, Response: eventResponse{}, StringPath: true}},
		{Method: "POST", Path: "/v1/automation/events/{id}/retry", Policy: &supervisorOrUp, Handler: a.retryEvent,
			Doc: Doc{Summary: "Re-queue a failed event (409 for any other status)", Tag: tagEvents, Response: eventResponse{}, Status: 202, StringPath: true, Errors: []int{409}}},
		{Method: "GET", Path: "/v1/automation/runs", Policy: &supervisorOrUp, Handler: a.listRuns,
			Doc: Doc{Summary: "List runs", Tag: tagEvents, Response: envelope[runResponse]{}, Query: append([]Param{
				{"rule_id", "integer", ""}, {"event_id", "string", ""}, {"matched", "boolean", ""}, {"executed", "boolean", ""},
				{"status", "string", "not_matched, pending, executed or failed"}}, listParams(false)...)}},
		{Method: "GET", Path: "/v1/automation/runs/{id}", Policy: &supervisorOrUp, Handler: a.getRun,
			Doc: Doc{Summary: "Get a run", Tag: tagEvents, Response: runResponse{}, StringPath: true}},

		// The pull outbox (docs/host-integration.md) and conversations (docs/concepts.md).
		{Method: "POST", Path: "/v1/actions/claim", Policy: &anyRole, Handler: a.claimActions,
			Doc: Doc{Summary: "Lease due pull actions (oldest first) to the calling token", Tag: "Actions (pull outbox)", Request: claimBody{}, Response: wholeList[outboxRowResponse]{},
				Notes: []string{"limit 1..500 (default 10), lease_secs 5..3600 (default 60); an empty body takes both defaults. Out of range: 422 naming the field.",
					"Only actions of a workspace without actions_url wait here. A lease that expires returns the action to pending, and the next claim may take it; ack or fail it before then.",
					"While the workspace is globally paused, nothing is claimed."}}},
		{Method: "GET", Path: "/v1/actions", Policy: &anyRole, Handler: a.listActions,
			Doc: Doc{Summary: "List the workspace's actions, newest first", Tag: "Actions (pull outbox)", Response: envelope[outboxRowResponse]{}, Query: append([]Param{
				{"status", "string", "pending, leased, succeeded, failed or skipped (an expired lease counts as pending)"},
				{"run_id", "string", "only the actions of this run"}, {"rule_id", "integer", "only the actions of this rule's runs"},
				{"cursor", "string", "created_at|id of the last row (next_cursor)"}, {"sort_by", "string", "created_at (the only order)"},
				{"sort_order", "string", "desc (default) or asc"}}, pageParams...),
				Notes: []string{"Lists every delivery of the workspace, also those this service pushes to the actions_url or to a send_webhook URL, so their state can be seen; only pull actions (those never pushed) can be claimed, acked or failed.",
					"An action's created_at is its run's, which is its event's (when the event was accepted), as for runs: so actions list in the order their events arrived, and an action's id sorts with its run's."}}},
		{Method: "GET", Path: "/v1/actions/{id}", Policy: &anyRole, Handler: a.getAction,
			Doc: Doc{Summary: "Get an action", Tag: "Actions (pull outbox)", Response: outboxRowResponse{}, StringPath: true}},
		{Method: "POST", Path: "/v1/actions/{id}/ack", Policy: &anyRole, Handler: a.ackAction,
			Doc: Doc{Summary: "Mark a pull action succeeded (idempotent; no body)", Tag: "Actions (pull outbox)", Response: outboxRowResponse{}, StringPath: true, Errors: []int{409},
				Notes: []string{"Any token of the workspace may ack, whoever claimed the action, and a pending action may be acked without a claim. Acking a succeeded action again changes nothing; a failed or skipped one is 409; a pushed action is 404.",
					"When the run's last action ends, the run settles (executed or failed) and the rule's applied_count moves."}}},
		{Method: "POST", Path: "/v1/actions/{id}/fail", Policy: &anyRole, Handler: a.failAction,
			Doc: Doc{Summary: "Record a failed attempt at a pull action", Tag: "Actions (pull outbox)", Request: failBody{}, Response: outboxRowResponse{}, StringPath: true, Errors: []int{409},
				Notes: []string{"error (required, at most 2,000 characters) becomes last_error. retry: true returns the action to pending after the backoff pushed deliveries follow (30 s, 1, 2, 5, 10, 30, 60 min, ±20 %); after the 8th attempt, or with retry false (the default), the action fails for good and so does its run.",
					"A succeeded, failed or skipped action is 409; a pushed action is 404."}}},
		{Method: "GET", Path: "/v1/conversations/{id}", Policy: &anyRole, Handler: a.getConversation,
			Doc: Doc{Summary: "What the engine has learned of a conversation", Tag: "Conversations", Response: conversationResponse{}, StringPath: true,
				Notes: []string{"Learned from every event carrying the conversation id (also while paused) and from the actions rules decided. status is open until an event or action says otherwise. A conversation no event has named is 404."}}},
		{Method: "GET", Path: "/v1/conversations/{id}/activity", Policy: &anyRole, Handler: a.listConversationActivity,
			Doc: Doc{Summary: "A conversation's automation timeline, newest first", Tag: "Conversations", Response: envelope[activityResponse]{}, StringPath: true,
				Query: append([]Param{{"cursor", "string", "created_at|id of the last row (next_cursor)"}, {"sort_by", "string", "created_at (the only order)"},
					{"sort_order", "string", "desc (default) or asc"}}, pageParams...),
				Notes: []string{"One automation_applied entry per rule that matched an event of the conversation, with the actions it decided."}}},

		// Global control (docs/concepts.md#the-global-control).
		{Method: "GET", Path: "/v1/automation/control", Policy: &supervisorOrUp, Handler: a.getControl,
			Doc: Doc{Summary: "The global kill switch", Tag: tagControl, Response: controlResponse{}}},
		{Method: "PUT", Path: "/v1/automation/control", Policy: &supervisorOrUp, Handler: a.putControl,
			Doc: Doc{Summary: "Pause or resume all automation", Tag: tagControl, Request: controlBody{}, Response: controlResponse{}}},

		// Directory (docs/concepts.md#workspaces-members-tokens-and-roles).
		{Method: "GET", Path: "/v1/members", Policy: &anyRole, Handler: a.listMembers,
			Doc: Doc{Summary: "List members", Tag: tagMembers, Response: envelope[memberResponse]{}, Query: pageParams}},
		{Method: "POST", Path: "/v1/members", Policy: &adminOnly, Handler: a.createMember,
			Doc: Doc{Summary: "Add a member", Tag: tagMembers, Request: memberWrite{}, Response: memberResponse{}, Status: 201, Errors: []int{409}}},
		{Method: "GET", Path: "/v1/members/{id}", Policy: &anyRole, Handler: a.getMember,
			Doc: Doc{Summary: "Get a member", Tag: tagMembers, Response: memberResponse{}}},
		{Method: "PATCH", Path: "/v1/members/{id}", Policy: &adminOnly, Handler: a.updateMember,
			Doc: Doc{Summary: "Update a member (demoting the last admin: 409)", Tag: tagMembers, Request: memberWrite{}, Response: memberResponse{}, Errors: []int{409}}},
		{Method: "DELETE", Path: "/v1/members/{id}", Policy: &adminOnly, Handler: a.deleteMember,
			Doc: Doc{Summary: "Remove a member and revoke its tokens (the last admin: 409)", Tag: tagMembers, Status: 204, Errors: []int{409}}},

		{Method: "GET", Path: "/v1/tokens", Policy: &anyRole, Handler: a.listTokens,
			Doc: Doc{Summary: "List tokens (admin), or your own with mine=1 (every role)", Tag: tagTokens, Response: envelope[tokenResponse]{},
				Query: append([]Param{{"mine", "boolean", "only the caller's own tokens"}}, pageParams...)}},
		{Method: "POST", Path: "/v1/tokens", Policy: &adminOnly, Handler: a.createToken,
			Doc: Doc{Summary: "Create a token; the secret is in this response only", Tag: tagTokens, Request: tokenCreate{}, Response: tokenResponse{}, Status: 201}},
		{Method: "DELETE", Path: "/v1/tokens/{id}", Policy: &anyRole, Handler: a.revokeToken,
			Doc: Doc{Summary: "Revoke a token (your own, or any as admin)", Tag: tagTokens, Status: 204}},

		{Method: "GET", Path: "/v1/workspace", Policy: &adminOnly, Handler: a.getWorkspace,
			Doc: Doc{Summary: "The workspace's settings (never the webhook signing secret: it is shown only when made)", Tag: tagWorkspace, Response: workspaceResponse{}}},
		{Method: "PATCH", Path: "/v1/workspace", Policy: &adminOnly, Handler: a.patchWorkspace,
			Doc: Doc{Summary: "Update settings (smtp merges; an omitted password keeps its value)", Tag: tagWorkspace, Request: workspacePatch{}, Response: workspaceResponse{}}},
		{Method: "POST", Path: "/v1/workspace/secret", Policy: &adminOnly, Handler: a.rotateSecret,
			Doc: Doc{Summary: "Rotate the signing secret; the old one keeps signing for 24 hours", Tag: tagWorkspace, Response: secretResponse{}}},
		{Method: "POST", Path: "/v1/workspaces", Policy: &adminOnly, Handler: a.createWorkspace,
			Doc: Doc{Summary: "Create another workspace (server started with --multi-workspace); the answer shows its admin token and signing secret, once", Tag: tagWorkspace, Request: workspaceCreate{}, Response: workspaceCreated{}, Status: 201}},

		{Method: "GET", Path: "/v1/tags", Policy: &anyRole, Handler: a.listTags,
			Doc: Doc{Summary: "List tags", Tag: tagTags, Response: envelope[tagResponse]{}, Query: pageParams}},
		{Method: "POST", Path: "/v1/tags", Policy: &supervisorOrUp, Handler: a.createTag,
			Doc: Doc{Summary: "Create a tag", Tag: tagTags, Request: tagWrite{}, Response: tagResponse{}, Status: 201, Errors: []int{409}}},
		{Method: "GET", Path: "/v1/tags/{id}", Policy: &anyRole, Handler: a.getTag,
			Doc: Doc{Summary: "Get a tag", Tag: tagTags, Response: tagResponse{}}},
		{Method: "PATCH", Path: "/v1/tags/{id}", Policy: &supervisorOrUp, Handler: a.updateTag,
			Doc: Doc{Summary: "Update a tag", Tag: tagTags, Request: tagWrite{}, Response: tagResponse{}, Errors: []int{409}}},
		{Method: "DELETE", Path: "/v1/tags/{id}", Policy: &supervisorOrUp, Handler: a.deleteTag,
			Doc: Doc{Summary: "Delete a tag (409 with rule_ids while rules use it)", Tag: tagTags, Status: 204, Errors: []int{409}}},

		{Method: "GET", Path: "/v1/contact-lists", Policy: &anyRole, Handler: a.listContactLists,
			Doc: Doc{Summary: "List contact lists", Tag: tagLists, Response: envelope[contactListResponse]{}, Query: pageParams}},
		{Method: "POST", Path: "/v1/contact-lists", Policy: &supervisorOrUp, Handler: a.createContactList,
			Doc: Doc{Summary: "Create a contact list", Tag: tagLists, Request: contactListWrite{}, Response: contactListResponse{}, Status: 201, Errors: []int{409}}},
		{Method: "GET", Path: "/v1/contact-lists/{id}", Policy: &anyRole, Handler: a.getContactList,
			Doc: Doc{Summary: "Get a contact list", Tag: tagLists, Response: contactListResponse{}}},
		{Method: "PATCH", Path: "/v1/contact-lists/{id}", Policy: &supervisorOrUp, Handler: a.updateContactList,
			Doc: Doc{Summary: "Rename a contact list", Tag: tagLists, Request: contactListWrite{}, Response: contactListResponse{}, Errors: []int{409}}},
		{Method: "DELETE", Path: "/v1/contact-lists/{id}", Policy: &supervisorOrUp, Handler: a.deleteContactList,
			Doc: Doc{Summary: "Delete a contact list (409 with rule_ids while rules use it)", Tag: tagLists, Status: 204, Errors: []int{409}}},
		{Method: "PUT", Path: "/v1/contact-lists/{id}/members", Policy: &supervisorOrUp, Handler: a.changeContactListMembers,
			Doc: Doc{Summary: "Add and remove addresses (case-insensitive; at most 10,000 per call)", Tag: tagLists, Request: contactListMembersChange{}, Response: contactListResponse{}}},
		{Method: "GET", Path: "/v1/contact-lists/{id}/members", Policy: &anyRole, Handler: a.listContactListMembers,
			Doc: Doc{Summary: "List a contact list's addresses", Tag: tagLists, Response: envelope[contactListEntryResponse]{}, Query: pageParams}},
	}, a.compatRoutes()...)
}

// compatRoutes are the two compatibility APIs (docs/compatibility.md). They read and
// write the same rules as /v1/automation/rules; a write through them
// touches only the fields it carries.
func (a *API) compatRoutes() []Route {
	const (
		tagRulesets    = "Compatibility: rulesets"
		tagAutomations = "Compatibility: workspace automations"
		rulesetsNote   = "The Fernand rulesets API. Credentials as X-API-Key (Bearer accepted too). " +
			"Errors name the rulesets fields (trigger, filters[0].operator, actions[0].data.agent_id)."
		automationsNote = "The inbound-email automations API: rules whose trigger is ticket_created or conversation_created. " +
			"The path's workspace must be the token's (404 otherwise). Only add_tag, assign_agent and send_response actions are shown; " +
			"others are kept by every write (a PATCH with actions replaces the shown ones in their places)."
	)
	automations := "/api/v1/workspaces/{workspace_id}/automations"
	return []Route{
		{Method: "GET", Path: "/organization/rules", Policy: &supervisorOrUp, Handler: a.listRulesets,
			Doc: Doc{Summary: "List rulesets (a bare array), by priority then id", Tag: tagRulesets, Response: []rulesetResponse{}, Notes: []string{rulesetsNote}}},
		{Method: "POST", Path: "/organization/rules", Policy: &supervisorOrUp, Handler: a.createRuleset,
			Doc: Doc{Summary: "Create a ruleset", Tag: tagRulesets, Request: rulesetWrite{}, Response: rulesetResponse{}, Status: 201,
				Notes: []string{rulesetsNote, "name, trigger and at least one action are required. A taken priority shifts every rule at or after it down by one; without priority the rule goes last."}}},
		{Method: "GET", Path: "/organization/rules/{id}", Policy: &supervisorOrUp, Handler: a.getRuleset,
			Doc: Doc{Summary: "Get a ruleset", Tag: tagRulesets, Response: rulesetResponse{}, Notes: []string{rulesetsNote}}},
		{Method: "PATCH", Path: "/organization/rules/{id}", Policy: &supervisorOrUp, Handler: a.updateRuleset,
			Doc: Doc{Summary: "Update a ruleset (absent fields unchanged; settings it cannot express are kept)", Tag: tagRulesets,
				Request: rulesetWrite{}, Response: rulesetResponse{}, Notes: []string{rulesetsNote}}},
		{Method: "DELETE", Path: "/organization/rules/{id}", Policy: &supervisorOrUp, Handler: a.deleteRuleset,
			Doc: Doc{Summary: "Delete a ruleset", Tag: tagRulesets, Status: 204, Notes: []string{rulesetsNote}}},

		{Method: "GET", Path: automations, Policy: &workspaceMember, Handler: a.listAutomations,
			Doc: Doc{Summary: "List automations, by priority then id", Tag: tagAutomations, Response: wholeList[automationResponse]{}, Notes: []string{automationsNote}}},
		{Method: "POST", Path: automations, Policy: &workspaceAdmin, Handler: a.createAutomation,
			Doc: Doc{Summary: "Create an automation", Tag: tagAutomations, Request: automationWrite{}, Response: automationResponse{}, Status: 201,
				Notes: []string{automationsNote, "event is required: ticket_created or conversation_created (422 otherwise)."}}},
		{Method: "POST", Path: automations + "/reorder", Policy: &workspaceAdmin, Handler: a.reorderAutomations,
			Doc: Doc{Summary: "Reorder some automations: the listed rules take the priority slots they hold now, in the given order", Tag: tagAutomations,
				Request: reorderBody{}, Response: wholeList[automationResponse]{}, Notes: []string{automationsNote}}},
		{Method: "GET", Path: automations + "/{rule_id}", Policy: &workspaceMember, Handler: a.getAutomation,
			Doc: Doc{Summary: "Get an automation", Tag: tagAutomations, Response: automationResponse{}, Notes: []string{automationsNote}}},
		{Method: "PATCH", Path: automations + "/{rule_id}", Policy: &workspaceAdmin, Handler: a.updateAutomation,
			Doc: Doc{Summary: "Update an automation (absent fields unchanged; hidden actions and settings are kept)", Tag: tagAutomations,
				Request: automationWrite{}, Response: automationResponse{}, Notes: []string{automationsNote}}},
		{Method: "DELETE", Path: automations + "/{rule_id}", Policy: &workspaceAdmin, Handler: a.deleteAutomation,
			Doc: Doc{Summary: "Delete an automation", Tag: tagAutomations, Status: 204, Notes: []string{automationsNote}}},
		{Method: "POST", Path: automations + "/{rule_id}/test", Policy: &workspaceMember, Handler: a.testAutomation,
			Doc: Doc{Summary: "Dry-run an automation on a sample message; nothing is persisted", Tag: tagAutomations,
				Request: automationSample{}, Response: engine.DryRunResult{},
				Notes: []string{automationsNote, "The sample is evaluated as message.* with contact.email = from_email; the answer is the dry-run's (matched, reason, trace, …)."}}},
	}
}
