package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// StoreOutbox is the Outbox of a store: it claims push deliveries and
// turns each into the Job that sends it, and settles attempts in the
// store, which moves the run with them.
type StoreOutbox struct {
	Store store.Outbox
	// EventJSON renders the event a send_webhook carries as the API's
	// event object (httpapi.EventJSON); without it a send_webhook fails.
	EventJSON func(store.Event) (json.RawMessage, error)
}

var _ Outbox = StoreOutbox{}

// Claim implements Outbox.
func (o StoreOutbox) Claim(ctx context.Context, c Claim) ([]Job, error) {
	claimed, err := o.Store.ClaimPushDeliveries(ctx, store.PushClaim{Owner: c.Owner, Now: c.Now, Limit: c.Limit,
		Lease: c.Lease, Room: c.Room})
	if err != nil {
		return nil, err
	}
	jobs := make([]Job, 0, len(claimed))
	for _, pd := range claimed {
		j, err := o.jobOf(pd)
		if err != nil {
			// A row that cannot be sent as it is never will be: fail it now
			// rather than claim it again after every lease.
			msg := err.Error()
			if serr := o.Store.SettleDelivery(ctx, store.Settlement{WorkspaceID: pd.WorkspaceID, ID: pd.ID,
				Owner: c.Owner, At: c.Now, Status: store.DeliveryFailed, Error: &msg}); serr != nil {
				return nil, serr
			}
			continue
		}
		j.Owner = c.Owner
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// jobOf builds the attempt of a claimed delivery.
func (o StoreOutbox) jobOf(pd store.PushDelivery) (Job, error) {
	ws := &pd.Workspace
	keys := Keys{Current: ws.Secret}
	if ws.PreviousSecret != nil && ws.PreviousSecretUntil != nil {
		keys.Previous, keys.PreviousUntil = *ws.PreviousSecret, *ws.PreviousSecretUntil
	}
	var action struct {
		Type    string            `json:"type"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
		Subject *string           `json:"subject"`
	}
	if err := json.Unmarshal(pd.Action, &action); err != nil {
		return Job{}, fmt.Errorf("delivery %s: action: %w", pd.ID, err)
	}
	target := ""
	if pd.Target != nil {
		target = *pd.Target
	}
	switch {
	case action.Type == "send_webhook":
		if o.EventJSON == nil {
			return Job{}, fmt.Errorf("delivery %s: no renderer for the webhook's event", pd.ID)
		}
		event, err := o.EventJSON(pd.Event)
		if err != nil {
			return Job{}, err
		}
		return NewWebhookJob(pd.ID, pd.WorkspaceID, action.URL, action.Headers,
			WebhookDelivery{Event: event, RuleID: pd.RuleID, RuleName: pd.RuleName, RunID: pd.RunID}, keys, pd.Attempts)
	case action.Type == "send_response" && strings.Contains(target, " smtp://"):
		if ws.SMTP == nil {
			return Job{}, fmt.Errorf("delivery %s: the workspace no longer has SMTP settings", pd.ID)
		}
		subject := ""
		if action.Subject != nil {
			subject = *action.Subject
		}
		return NewMailJob(pd.ID, pd.WorkspaceID, SMTPOf(*ws.SMTP), pd.Event.Payload, subject, action.Body, pd.Attempts), nil
	}
	if ws.ActionsURL == nil || *ws.ActionsURL == "" {
		return Job{}, fmt.Errorf("delivery %s: the workspace no longer has an actions_url", pd.ID)
	}
	return NewActionJob(ActionDelivery{ID: pd.ID, WorkspaceID: pd.WorkspaceID, EventID: pd.EventID, RuleID: pd.RuleID,
		RunID: pd.RunID, ConversationID: pd.ConversationID, ContactID: pd.ContactID, Action: pd.Action},
		*ws.ActionsURL, keys, pd.Attempts)
}

// SMTPOf converts a workspace's stored SMTP settings for sending.
func SMTPOf(s store.SMTPSettings) SMTPSettings {
	return SMTPSettings{Host: s.Host, Port: s.Port, Username: s.Username, Password: s.Password, From: s.From, TLS: s.TLS}
}

// Succeed implements Outbox.
func (o StoreOutbox) Succeed(ctx context.Context, j Job, at time.Time) error {
	return o.Store.SettleDelivery(ctx, store.Settlement{WorkspaceID: j.WorkspaceID, ID: j.ID, Owner: j.Owner, At: at,
		Status: store.DeliverySucceeded})
}

// Retry implements Outbox.
func (o StoreOutbox) Retry(ctx context.Context, j Job, at time.Time, errMsg string, next time.Time) error {
	return o.Store.SettleDelivery(ctx, store.Settlement{WorkspaceID: j.WorkspaceID, ID: j.ID, Owner: j.Owner, At: at,
		Status: store.DeliveryPending, Error: &errMsg, Next: next})
}

// Fail implements Outbox.
func (o StoreOutbox) Fail(ctx context.Context, j Job, at time.Time, errMsg string) error {
	return o.Store.SettleDelivery(ctx, store.Settlement{WorkspaceID: j.WorkspaceID, ID: j.ID, Owner: j.Owner, At: at,
		Status: store.DeliveryFailed, Error: &errMsg})
}
