package delivery

// NewActionJob makes the Job of a conversation action pushed to the
// workspace's actions_url. attempts is the row's attempt count so far.
func NewActionJob(d ActionDelivery, actionsURL string, keys Keys, attempts int) (Job, error) {
	body, err := PushBody(d)
	if err != nil {
		return Job{}, err
	}
	return Job{ID: d.ID, WorkspaceID: d.WorkspaceID, Target: TargetKey(d.WorkspaceID, actionsURL), Attempts: attempts,
		HTTP: &Request{ID: d.ID, URL: actionsURL, Body: body, Keys: keys}}, nil
}

// NewWebhookJob makes the Job of a send_webhook action: a POST to the
// action's own URL with its headers, signed like every delivery.
func NewWebhookJob(id string, workspaceID int64, url string, headers map[string]string, w WebhookDelivery, keys Keys, attempts int) (Job, error) {
	body, err := WebhookBody(w)
	if err != nil {
		return Job{}, err
	}
	return Job{ID: id, WorkspaceID: workspaceID, Target: TargetKey(workspaceID, url), Attempts: attempts,
		HTTP: &Request{ID: id, URL: url, Body: body, Keys: keys, Headers: headers}}, nil
}

// NewMailJob makes the Job of a send_response sent by SMTP: the reply to
// the event's payload, with the action's rendered subject and body.
// Apply SkipReason first; a skipped reply has no job.
func NewMailJob(id string, workspaceID int64, s SMTPSettings, payload []byte, subject, body string, attempts int) Job {
	return Job{ID: id, WorkspaceID: workspaceID, Target: SMTPTargetKey(workspaceID, s), Attempts: attempts,
		Mail: &MailJob{SMTP: s, Mail: ReplyMail(ParseInbound(payload), subject, body)}}
}
