package rules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Trigger types of the contract (docs/concepts.md#triggers).
const (
	TriggerNewConversation     = "messages.new_conversation"
	TriggerIncoming            = "messages.incoming"
	TriggerResponse            = "messages.response"
	TriggerDeliveryFailure     = "messages.delivery_failure"
	TriggerSpam                = "messages.spam"
	TriggerNote                = "messages.note"
	TriggerStatusClosed        = "status.closed"
	TriggerStatusOpened        = "status.opened"
	TriggerStatusSnoozed       = "status.snoozed"
	TriggerStatusUnsnoozed     = "status.unsnoozed"
	TriggerAssigned            = "teammates.assigned"
	TriggerMentioned           = "teammate.mentioned"
	TriggerUnansweredByClient  = "time.unanswered_by_client"
	TriggerUnansweredByTeam    = "time.unanswered_by_team"
	TriggerTicketDone          = "tickets.ticket_done"
	TriggerTicketCreated       = "ticket_created"
	TriggerConversationCreated = "conversation_created"
)

// Triggers lists the built-in trigger types in the contract's order.
var Triggers = []string{
	TriggerNewConversation, TriggerIncoming, TriggerResponse, TriggerDeliveryFailure,
	TriggerSpam, TriggerNote, TriggerStatusClosed, TriggerStatusOpened,
	TriggerStatusSnoozed, TriggerStatusUnsnoozed, TriggerAssigned, TriggerMentioned,
	TriggerUnansweredByClient, TriggerUnansweredByTeam, TriggerTicketDone,
	TriggerTicketCreated, TriggerConversationCreated,
}

var builtinTriggers = func() map[string]bool {
	m := make(map[string]bool, len(Triggers))
	for _, t := range Triggers {
		m[t] = true
	}
	return m
}()

var customTrigger = regexp.MustCompile(`^custom\.[a-z0-9_.-]{1,60}$`)

// ValidTrigger reports whether t is a built-in trigger or a host-defined
// custom.<name> one.
func ValidTrigger(t string) bool { return builtinTriggers[t] || customTrigger.MatchString(t) }

// IsTimeTrigger reports whether t is produced by the engine's scheduler
// rather than sent by a host.
func IsTimeTrigger(t string) bool { return strings.HasPrefix(t, "time.") }

// CarriesMessage reports whether events of trigger t carry a message, so
// conditions on message.* make sense for them.
func CarriesMessage(t string) bool {
	return strings.HasPrefix(t, "messages.") || t == TriggerConversationCreated ||
		t == TriggerTicketCreated || t == TriggerMentioned
}

// CarriesTicket reports whether events of trigger t carry a ticket.
func CarriesTicket(t string) bool { return t == TriggerTicketCreated || t == TriggerTicketDone }

// Trigger data for the assignment and mention triggers.
const (
	TriggerDataNoOne  = "no_one"
	TriggerDataAnyone = "anyone"
)

// checkTriggerData returns why data does not suit trigger t, or "".
func checkTriggerData(t string, data *string) string {
	switch t {
	case TriggerAssigned, TriggerMentioned:
		if data == nil || *data == "" {
			return fmt.Sprintf("is required for %s: \"no_one\", \"anyone\" or a member id", t)
		}
		if *data == TriggerDataNoOne || *data == TriggerDataAnyone {
			return ""
		}
		if id, err := strconv.ParseInt(*data, 10, 64); err != nil || id <= 0 {
			return fmt.Sprintf("must be \"no_one\", \"anyone\" or a member id, not %q", *data)
		}
		return ""
	case TriggerUnansweredByClient, TriggerUnansweredByTeam:
		if data == nil || *data == "" {
			return fmt.Sprintf("is required for %s: a duration such as \"2 hours\"", t)
		}
		if _, err := ParseWaitDuration(*data); err != nil {
			return err.Error()
		}
		return ""
	default:
		if data != nil {
			return fmt.Sprintf("must be absent or null for %s", t)
		}
		return ""
	}
}

var waitDuration = regexp.MustCompile(`^([0-9]{1,9}) (minute|minutes|hour|hours|day|days)$`)

// MinWait and MaxWait bound a time trigger's duration.
const (
	MinWait = time.Minute
	MaxWait = 365 * 24 * time.Hour
)

// ParseWaitDuration parses a time trigger's "{n} {minutes|hours|days}"
// (singular accepted; a day is 24 hours).
func ParseWaitDuration(s string) (time.Duration, error) {
	m := waitDuration.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("must be \"{n} minutes\", \"{n} hours\" or \"{n} days\", not %q", s)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	unit := time.Minute
	switch strings.TrimSuffix(m[2], "s") {
	case "hour":
		unit = time.Hour
	case "day":
		unit = 24 * time.Hour
	}
	if n > int64(MaxWait/unit) || time.Duration(n)*unit < MinWait {
		return 0, fmt.Errorf("must be between 1 minute and 365 days, not %q", s)
	}
	return time.Duration(n) * unit, nil
}
