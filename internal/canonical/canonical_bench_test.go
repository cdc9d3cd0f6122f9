package canonical

import (
	"testing"

	"github.com/gowebpki/jcs"
)

// helpdeskPayload is a typical event payload of about 1 KiB, keys in the
// order a host would send them (not sorted).
var helpdeskPayload = []byte(`{
  "conversation": {
    "id": "conv_01JD7ZK3M4Q8",
    "status": "open",
    "subject": "Refund for order #48213 — item arrived damaged",
    "channel": "email",
    "assignee_id": null,
    "tags": ["billing", "refund", "priority-review"],
    "priority": "high",
    "created_at": "2026-11-22T10:30:00.123Z"
  },
  "message": {
    "id": "msg_01JD7ZK4A1B2",
    "from_email": "jane.doe@example.com",
    "subject": "Re: Refund for order #48213",
    "body": "<p>Hello,</p><p>The mug I ordered arrived in pieces. Could you refund it or send a new one?</p><p>Thanks,<br>Jane</p>",
    "headers": {
      "Message-ID": "<CAF=abc123@mail.example.com>",
      "In-Reply-To": "<reply-77@helpdesk.example.org>",
      "X-Mailer": "Example Mail 4.2"
    },
    "direction": "incoming",
    "attachments": 2
  },
  "contact": {
    "id": "ct_9981",
    "email": "jane.doe@example.com",
    "name": "Jane Doe",
    "locale": "fr-FR",
    "lifetime_value": 1234.5,
    "vip": false
  },
  "custom": {"order_id": 48213, "order_total": 59.90, "currency": "EUR", "score": 0.875}
}`)

// BenchmarkHash measures what ingestion pays per event.
func BenchmarkHash(b *testing.B) {
	b.SetBytes(int64(len(helpdeskPayload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Hash(helpdeskPayload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCanonicalize(b *testing.B) {
	b.SetBytes(int64(len(helpdeskPayload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Canonicalize(helpdeskPayload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCanonicalizeJCS measures github.com/gowebpki/jcs on the same
// payload, the library we compared against before writing our own.
func BenchmarkCanonicalizeJCS(b *testing.B) {
	b.SetBytes(int64(len(helpdeskPayload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jcs.Transform(helpdeskPayload); err != nil {
			b.Fatal(err)
		}
	}
}
