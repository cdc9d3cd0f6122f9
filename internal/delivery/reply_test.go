package delivery

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSkipReason(t *testing.T) {
	t.Parallel()
	const own = "Support <support@acme.example>"
	tests := []struct {
		name    string
		payload string
		want    string
	}{
		{"an ordinary customer mail", `{"message": {"from_email": "ana@customer.example", "headers": {"Message-ID": "<1@x>"}}}`, ""},
		{"contact email wins over from_email", `{"contact": {"email": "ana@customer.example"}, "message": {"from_email": "noreply@customer.example"}}`, ""},
		{"Auto-Submitted: no is a person", `{"message": {"from_email": "ana@customer.example", "headers": {"Auto-Submitted": "no"}}}`, ""},
		{"Auto-Submitted: No (any case)", `{"message": {"from_email": "ana@customer.example", "headers": {"auto-submitted": " No "}}}`, ""},
		{"Precedence: first-class", `{"message": {"from_email": "ana@customer.example", "headers": {"Precedence": "first-class"}}}`, ""},
		{"no headers object", `{"message": {"from_email": "ana@customer.example", "headers": "junk"}}`, ""},

		{"Auto-Submitted: auto-replied", `{"message": {"from_email": "ana@customer.example", "headers": {"Auto-Submitted": "auto-replied"}}}`, SkipAutoSubmitted},
		{"Auto-Submitted: auto-generated", `{"message": {"from_email": "ana@customer.example", "headers": {"AUTO-SUBMITTED": "auto-generated"}}}`, SkipAutoSubmitted},
		{"Auto-Submitted with parameters", `{"message": {"from_email": "ana@customer.example", "headers": {"auto-submitted": "auto-notified; owner-email=a@b"}}}`, SkipAutoSubmitted},
		{"Auto-Submitted empty", `{"message": {"from_email": "ana@customer.example", "headers": {"Auto-Submitted": ""}}}`, SkipAutoSubmitted},
		{"X-Auto-Response-Suppress", `{"message": {"from_email": "ana@customer.example", "headers": {"X-Auto-Response-Suppress": "OOF, AutoReply"}}}`, SkipAutoSubmitted},
		{"x-auto-response-suppress lower case", `{"message": {"from_email": "ana@customer.example", "headers": {"x-auto-response-suppress": "All"}}}`, SkipAutoSubmitted},

		{"Precedence: bulk", `{"message": {"from_email": "news@shop.example", "headers": {"Precedence": "bulk"}}}`, SkipBulkMail},
		{"Precedence: list", `{"message": {"from_email": "ana@customer.example", "headers": {"precedence": "List"}}}`, SkipBulkMail},
		{"Precedence: junk", `{"message": {"from_email": "ana@customer.example", "headers": {"PRECEDENCE": "junk"}}}`, SkipBulkMail},
		{"List-Id", `{"message": {"from_email": "ana@customer.example", "headers": {"List-Id": "<dev.lists.example>"}}}`, SkipBulkMail},
		{"list-id as a list of values", `{"message": {"from_email": "ana@customer.example", "headers": {"list-id": ["<a>"]}}}`, SkipBulkMail},

		{"no sender at all", `{"message": {"subject": "hi"}}`, SkipNoReplyAddress},
		{"null sender", `{"message": {"from_email": null}}`, SkipNoReplyAddress},
		{"empty sender", `{"message": {"from_email": ""}}`, SkipNoReplyAddress},
		{"bounce with Return-Path <>", `{"message": {"from_email": "ana@customer.example", "headers": {"Return-Path": "<>"}}}`, SkipNoReplyAddress},
		{"mailer-daemon", `{"message": {"from_email": "MAILER-DAEMON@mx.example"}}`, SkipNoReplyAddress},
		{"postmaster", `{"message": {"from_email": "postmaster@customer.example"}}`, SkipNoReplyAddress},
		{"noreply", `{"message": {"from_email": "noreply@shop.example"}}`, SkipNoReplyAddress},
		{"no-reply with a display name", `{"message": {"from_email": "Shop <No-Reply@shop.example>"}}`, SkipNoReplyAddress},
		{"no_reply", `{"message": {"from_email": "no_reply@shop.example"}}`, SkipNoReplyAddress},
		{"noreply with a tag", `{"message": {"from_email": "noreply+orders@shop.example"}}`, SkipNoReplyAddress},
		{"do-not-reply", `{"message": {"from_email": "do-not-reply@bank.example"}}`, SkipNoReplyAddress},
		{"noreply contact", `{"contact": {"email": "noreply@shop.example"}}`, SkipNoReplyAddress},
		{"the workspace's own address", `{"message": {"from_email": "SUPPORT@acme.example"}}`, SkipNoReplyAddress},
		{"not an address", `{"message": {"from_email": "ana at customer"}}`, SkipNoReplyAddress},
		{"payload not JSON", `nope`, SkipNoReplyAddress},

		// Order: an automatic bounce is auto_submitted first.
		{"auto-submitted bounce from mailer-daemon", `{"message": {"from_email": "mailer-daemon@mx.example", "headers": {"Auto-Submitted": "auto-replied"}}}`, SkipAutoSubmitted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := SkipReason(ParseInbound([]byte(tt.payload)), own); got != tt.want {
				t.Errorf("SkipReason = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReplyMail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		payload       string
		subject, body string
		want          Mail
	}{
		{"threaded under the Message-ID", `{"contact": {"email": "ana@c.example"}, "message": {"from_email": "other@c.example", "subject": "Order 42", "headers": {"message-ID": "<m1@c.example>"}}}`,
			"", "Thanks", Mail{To: "ana@c.example", Subject: "Re: Order 42", Body: "Thanks", InReplyTo: "<m1@c.example>", References: []string{"<m1@c.example>"}}},
		{"continues References", `{"message": {"from_email": "ana@c.example", "subject": "Re: Order 42", "headers": {"Message-Id": "<m2@c>", "references": "<m0@c>\r\n <m1@c>"}}}`,
			"", "b", Mail{To: "ana@c.example", Subject: "Re: Order 42", Body: "b", InReplyTo: "<m2@c>", References: []string{"<m0@c>", "<m1@c>", "<m2@c>"}}},
		{"the action's subject wins", `{"message": {"from_email": "ana@c.example", "subject": "Order 42"}}`,
			"We got your mail", "b", Mail{To: "ana@c.example", Subject: "We got your mail", Body: "b"}},
		{"no Message-ID, no subject", `{"message": {"from_email": "ana@c.example"}}`,
			"", "b", Mail{To: "ana@c.example", Subject: "Re: your message", Body: "b"}},
		{"a header injection stays on one line", `{"message": {"from_email": "ana@c.example", "headers": {"Message-ID": "<m@c>\r\nBcc: victim@x"}}}`,
			"s", "b", Mail{To: "ana@c.example", Subject: "s", Body: "b", InReplyTo: "<m@c> Bcc: victim@x", References: []string{"<m@c> Bcc: victim@x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ReplyMail(ParseInbound([]byte(tt.payload)), tt.subject, tt.body)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReplyMail (-want +got):\n%s", diff)
			}
		})
	}
}
