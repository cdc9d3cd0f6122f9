// Package delivery makes the actions in the outbox happen (docs/concepts.md#deliveries-and-the-outbox): it
// signs and POSTs them to the host's actions_url or a send_webhook URL,
// sends auto-replies by SMTP, retries with backoff, and refuses targets on
// private networks (the SSRF guard). It knows nothing of the store: the
// store hands it Jobs through the narrow Outbox interface and is told how
// each attempt ended.
//
// The pieces are usable on their own: Sign for Standard Webhooks headers,
// Guard for any outbound HTTP client, Backoff for the retry schedule,
// PushBody/WebhookBody for the JSON bodies, SkipReason for the RFC 3834
// guards of send_response, and Pool to run them all against an Outbox.
package delivery
