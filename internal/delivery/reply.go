package delivery

import (
	"encoding/json"
	"net/mail"
	"strings"
)

// Skip reasons of send_response (docs/concepts.md#deliveries-and-the-outbox). recipient_cooldown needs the
// store and is decided there.
const (
	SkipAutoSubmitted  = "auto_submitted"
	SkipBulkMail       = "bulk_mail"
	SkipNoReplyAddress = "no_reply_address"
)

// Inbound is what an auto-reply needs from the event payload: the
// message's headers (names case-insensitive) and the addresses.
type Inbound struct {
	headers      map[string][]string // lower-cased name → values
	FromEmail    string              // message.from_email
	ContactEmail string              // contact.email
	Subject      string              // message.subject
}

// ParseInbound reads an event payload. Fields it lacks, or that have the
// wrong type, are empty: a payload is the host's own JSON, and a missing
// header must read as absent, never fail the reply.
func ParseInbound(payload []byte) Inbound {
	var p struct {
		Message struct {
			FromEmail any            `json:"from_email"`
			Subject   any            `json:"subject"`
			Headers   map[string]any `json:"headers"`
		} `json:"message"`
		Contact struct {
			Email any `json:"email"`
		} `json:"contact"`
	}
	_ = json.Unmarshal(payload, &p)
	in := Inbound{
		headers:      map[string][]string{},
		FromEmail:    str(p.Message.FromEmail),
		ContactEmail: str(p.Contact.Email),
		Subject:      str(p.Message.Subject),
	}
	for k, v := range p.Message.Headers {
		name := strings.ToLower(strings.TrimSpace(k))
		switch v := v.(type) {
		case string:
			in.headers[name] = append(in.headers[name], v)
		case []any: // some hosts send repeated headers as a list
			for _, e := range v {
				if s, ok := e.(string); ok {
					in.headers[name] = append(in.headers[name], s)
				}
			}
		}
	}
	return in
}

func str(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(s)
}

// Header returns the first value of a header, by case-insensitive name.
func (in Inbound) Header(name string) (string, bool) {
	v, ok := in.headers[strings.ToLower(name)]
	if !ok || len(v) == 0 {
		return "", ok
	}
	return strings.TrimSpace(v[0]), true
}

// Recipient is where an auto-reply goes: contact.email, else
// message.from_email (§5).
func (in Inbound) Recipient() string {
	if in.ContactEmail != "" {
		return in.ContactEmail
	}
	return in.FromEmail
}

// SkipReason applies the RFC 3834 guards of send_response to an inbound
// message: "" when an automated reply may be sent, else the reason it is
// skipped. ownFrom is the workspace's sending address, so Switchboard
// never answers its own mail.
func SkipReason(in Inbound, ownFrom string) string {
	// RFC 3834 §5: anything but "no" marks an automatic message; Microsoft
	// clients suppress replies with X-Auto-Response-Suppress.
	if v, ok := in.Header("Auto-Submitted"); ok && !strings.EqualFold(firstToken(v), "no") {
		return SkipAutoSubmitted
	}
	if _, ok := in.Header("X-Auto-Response-Suppress"); ok {
		return SkipAutoSubmitted
	}
	if v, ok := in.Header("Precedence"); ok {
		switch strings.ToLower(firstToken(v)) {
		case "bulk", "list", "junk":
			return SkipBulkMail
		}
	}
	if _, ok := in.Header("List-Id"); ok {
		return SkipBulkMail
	}
	// A null reverse-path (bounces, RFC 5321 §4.5.5) must never be answered.
	if v, ok := in.Header("Return-Path"); ok && strings.ReplaceAll(v, " ", "") == "<>" {
		return SkipNoReplyAddress
	}
	to := addrSpec(in.Recipient())
	if to == "" || noReplyAddress(to) {
		return SkipNoReplyAddress
	}
	if own := addrSpec(ownFrom); own != "" && strings.EqualFold(to, own) {
		return SkipNoReplyAddress
	}
	return ""
}

// firstToken is a header value up to its first ';' or space (for
// "auto-replied; owner-email=..." style parameters).
func firstToken(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexAny(v, "; \t"); i >= 0 {
		v = v[:i]
	}
	return v
}

// addrSpec is the bare address of "Name <a@b>" or "a@b", lower-cased; ""
// when there is none.
func addrSpec(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || s == "<>" {
		return ""
	}
	if a, err := mail.ParseAddress(s); err == nil {
		return strings.ToLower(a.Address)
	}
	if strings.Count(s, "@") == 1 && !strings.ContainsAny(s, " <>\r\n") {
		return strings.ToLower(s)
	}
	return ""
}

// noReplyAddress reports addresses that, by convention, nobody reads:
// bounces and role accounts of mail systems, and noreply senders in their
// usual spellings ("no-reply", "noreply+billing", "do-not-reply", ...).
func noReplyAddress(addr string) bool {
	local, _, _ := strings.Cut(addr, "@")
	local, _, _ = strings.Cut(local, "+")
	switch local {
	case "mailer-daemon", "postmaster":
		return true
	}
	squashed := strings.NewReplacer("-", "", "_", "", ".", "").Replace(local)
	return strings.HasPrefix(squashed, "noreply") || strings.HasPrefix(squashed, "donotreply")
}

// Mail is one auto-reply.
type Mail struct {
	To         string
	Subject    string
	Body       string // text/plain
	InReplyTo  string // the inbound Message-ID, "" when it had none
	References []string
}

// ReplyMail makes the auto-reply to in: to its Recipient, threaded under
// its Message-ID (In-Reply-To, and References continuing the inbound
// chain, RFC 5322 §3.6.4). The body and subject are the action's, already
// rendered from the payload by the engine; an action without a subject
// answers "Re: " the inbound subject.
func ReplyMail(in Inbound, subject, body string) Mail {
	m := Mail{To: in.Recipient(), Subject: subject, Body: body}
	if m.Subject == "" {
		m.Subject = in.Subject
		if m.Subject == "" {
			m.Subject = "Re: your message"
		} else if !strings.HasPrefix(strings.ToLower(m.Subject), "re:") {
			m.Subject = "Re: " + m.Subject
		}
	}
	if id, _ := in.Header("Message-ID"); id != "" {
		id = oneLine(id)
		m.InReplyTo = id
		if refs, _ := in.Header("References"); refs != "" {
			m.References = strings.Fields(oneLine(refs))
		}
		m.References = append(m.References, id)
	}
	return m
}

// oneLine removes line breaks, so an inbound header cannot smuggle extra
// header lines into the reply.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(s)), " ")
}
