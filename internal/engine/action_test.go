package engine

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/rules"
)

// TestPlannedActionMarshalJSON: the pipeline calls MarshalJSON directly
// (json.Marshal would validate and compact its output again), so its
// bytes must be what json.Marshal gives, HTML escaping included.
func TestPlannedActionMarshalJSON(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for _, a := range []PlannedAction{
		{Type: rules.ActionAddTag, TagID: 3, TagName: "vip <&> \u2028", TagExternalID: "t-3"},
		{Type: rules.ActionRemoveTag, TagID: 4, TagName: "x"},
		{Type: rules.ActionAssignAgent, UserID: 7, UserEmail: "a@b.example"},
		{Type: rules.ActionSetStatus, Status: "snoozed", SnoozeUntil: &at},
		{Type: rules.ActionSetPriority, Priority: "high"},
		{Type: rules.ActionAddNote, Body: "line 1\nline \"2\" <b>\x01"},
		{Type: rules.ActionSendResponse, Body: "hi", Subject: "Re: <order>"},
		{Type: rules.ActionSendWebhook, URL: "https://h.example/x?a=1&b=2", Headers: map[string]string{"X-B": "2", "X-A": "1"}},
		{Type: rules.ActionUnassign},
	} {
		direct, err := a.MarshalJSON()
		if err != nil {
			t.Fatalf("%s: MarshalJSON: %v", a.Type, err)
		}
		through, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("%s: json.Marshal: %v", a.Type, err)
		}
		if !bytes.Equal(direct, through) {
			t.Errorf("%s: MarshalJSON %s, json.Marshal %s", a.Type, direct, through)
		}
	}
}
