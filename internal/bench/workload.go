package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// The workload: rules shaped like a real workspace's and ~1 KB
// messages.incoming events that every matching rule matches and every other
// rule fails on a realistic condition (not always the first one, so the
// engine does real work before it gives up).

// numTags is how many tags the bench creates for the add_tag actions.
const numTags = 10

// ruleSpec is one rule as POST /v1/automation/rules takes it, plus whether
// the bench's events match it.
type ruleSpec struct {
	Name        string           `json:"name"`
	TriggerType string           `json:"trigger_type"`
	TriggerData *string          `json:"trigger_data,omitempty"`
	Conditions  []map[string]any `json:"conditions"`
	Actions     []map[string]any `json:"actions"`
	// Matches is true when every event the bench sends matches the rule.
	Matches bool `json:"-"`
}

func leaf(field, op string, value any) map[string]any {
	return map[string]any{"field": field, "operator": op, "value": value}
}

// holdsMessage are conditions every bench event satisfies, on message
// triggers (they may read message.*).
var holdsMessage = []map[string]any{
	leaf("message.subject", "contains", "order"),
	leaf("contact.email", "ends_with", "@example.com"),
	leaf("conversation.tags", "contains", "customer"),
	leaf("custom.order_total", "gt", 10),
	leaf("message.body", "matches", `order\s+#\d+`),
	leaf("message.from_email", "starts_with", "customer"),
	leaf("custom.plan", "in", []any{"business", "enterprise"}),
	leaf("conversation.priority", "in", []any{"medium", "high"}),
	leaf("conversation.channel", "equals", "email"),
}

// failsMessage are conditions no bench event satisfies, on message triggers.
var failsMessage = []map[string]any{
	leaf("message.subject", "contains", "invoice"),
	leaf("custom.plan", "equals", "enterprise"),
	leaf("contact.email", "ends_with", "@vip.example.org"),
	leaf("custom.order_total", "gt", 5000),
	leaf("message.body", "matches", `chargeback|lawsuit|gdpr request`),
	leaf("conversation.tags", "contains", "escalated"),
	leaf("message.subject", "starts_with", "Fwd:"),
	leaf("custom.region", "in", []any{"us-east", "ap-south"}),
}

// holdsOther and failsOther read no message.*, for the triggers that carry
// none (status.*, teammates.assigned).
var holdsOther = []map[string]any{
	leaf("contact.email", "ends_with", "@example.com"),
	leaf("conversation.tags", "contains", "customer"),
	leaf("custom.order_total", "gt", 10),
	leaf("conversation.channel", "equals", "email"),
	leaf("custom.plan", "in", []any{"business", "enterprise"}),
}

var failsOther = []map[string]any{
	leaf("custom.plan", "equals", "enterprise"),
	leaf("conversation.tags", "contains", "escalated"),
	leaf("custom.region", "in", []any{"us-east", "ap-south"}),
	leaf("contact.email", "matches", `@(competitor|press)\.`),
}

// The bench sends messages.incoming; the other triggers are there because a
// real workspace has them (they cost the engine an index lookup, no more).
const benchTrigger = "messages.incoming"

var otherTriggers = []string{"messages.response", "status.opened", "teammates.assigned"}

// workloadRules returns n rules: rule i matches every bench event when
// i%10 == 0 (so a tenth of them, rounded up); the others are mostly
// messages.incoming rules that fail on one condition, plus rules of
// messages.new_conversation, status.closed and a few more triggers. Each
// has 3 to 5 conditions and 1 or 2 actions; tagIDs are the tags add_tag
// may use (at least one).
func workloadRules(n int, tagIDs []int64) []ruleSpec {
	out := make([]ruleSpec, 0, n)
	for i := range n {
		nconds := 3 + i%3 // 3, 4, 5
		var r ruleSpec
		message := true
		switch {
		case i%10 == 0:
			r.TriggerType, r.Matches = benchTrigger, true
		case i%10 <= 6:
			r.TriggerType = benchTrigger
		case i%10 == 7:
			r.TriggerType = "messages.new_conversation"
		case i%10 == 8:
			r.TriggerType, message = "status.closed", false
		default:
			r.TriggerType = otherTriggers[(i/10)%len(otherTriggers)]
			if r.TriggerType == "teammates.assigned" {
				anyone := "anyone"
				r.TriggerData = &anyone
			}
			message = r.TriggerType == "messages.response"
		}
		holds, fails := holdsMessage, failsMessage
		if !message {
			holds, fails = holdsOther, failsOther
		}
		// The failing condition sits at a varying position: sometimes the
		// engine stops at once, sometimes after the other conditions held.
		failAt := -1
		if !r.Matches {
			failAt = (i / 2) % nconds
		}
		for k := range nconds {
			if k == failAt {
				r.Conditions = append(r.Conditions, fails[(i+k)%len(fails)])
			} else {
				r.Conditions = append(r.Conditions, holds[(i+k)%len(holds)])
			}
		}
		tag := tagIDs[i%len(tagIDs)]
		r.Actions = []map[string]any{{"type": "add_tag", "tag_id": tag}}
		switch i % 3 {
		case 1:
			// "high": the holding condition on conversation.priority
			// accepts it, so a later matching rule still matches.
			r.Actions = append(r.Actions, map[string]any{"type": "set_priority", "priority": "high"})
		case 2:
			r.Actions = append(r.Actions, map[string]any{"type": "add_note",
				"body": "Automated triage: {{message.subject}} from {{contact.name}}"})
		}
		r.Name = fmt.Sprintf("bench %03d %s", i, r.TriggerType)
		out = append(out, r)
	}
	return out
}

// eventTemplate is a messages.incoming request body as a helpdesk sends
// it. Arguments: 1 conversation number, 2 client, 3 sequence, 4 order
// number, 5 body text, 6 order total.
const eventTemplate = `{"event_type":"messages.incoming","conversation_id":"conv-%05[1]d","contact_id":"contact-%05[1]d",` +
	`"source":"api","channel_source":"email","payload":{` +
	`"conversation":{"id":"conv-%05[1]d","status":"open","subject":"Order #%[4]d arrived damaged","channel":"email",` +
	`"assignee_id":null,"tags":["customer","order"],"priority":"medium"},` +
	`"message":{"id":"msg-%[2]d-%[3]d","direction":"incoming","from_email":"customer%05[1]d@example.com",` +
	`"subject":"Re: Order #%[4]d arrived damaged","body":"Hello support team,\n\nmy order #%[4]d arrived today and the box was damaged. %[5]s",` +
	`"headers":{"Message-ID":"<msg-%[2]d-%[3]d@mail.example.com>","From":"Customer %[1]d <customer%05[1]d@example.com>",` +
	`"To":"support@helpdesk.example","Content-Type":"text/plain; charset=utf-8"}},` +
	`"contact":{"id":"contact-%05[1]d","email":"customer%05[1]d@example.com","name":"Customer %[1]d"},` +
	`"custom":{"plan":"business","order_total":%[6]d.5,"region":"eu-west"}}}`

const filler = "Could you please send a replacement or tell me how to return it? " +
	"I attached two photos of the parcel and the receipt from the courier. " +
	"Thanks in advance for your help, and have a nice day. "

// eventGen makes request bodies of about the requested size.
type eventGen struct {
	conversations int
	text          string // the body's padding
}

// newEventGen returns a generator of bodies of about size bytes (never
// less than the template itself), over conversations conversations.
func newEventGen(size, conversations int) *eventGen {
	g := &eventGen{conversations: conversations}
	probe := len(g.body(rand.New(rand.NewPCG(1, 2)), 0, 0))
	if pad := size - probe; pad > 0 {
		g.text = strings.Repeat(filler, pad/len(filler)+1)[:pad]
		// Padding cut inside a word is fine; trailing space is not needed.
	}
	return g
}

// body returns one event's request body: a random conversation, a message
// id unique to (client, seq).
func (g *eventGen) body(rng *rand.Rand, client, seq int) []byte {
	conv := rng.IntN(g.conversations)
	order := 10000 + rng.IntN(90000)
	total := 20 + rng.IntN(480)
	return fmt.Appendf(make([]byte, 0, 1400), eventTemplate, conv, client, seq, order, g.text, total)
}
