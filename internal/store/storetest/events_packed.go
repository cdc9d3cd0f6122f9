package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/packed"
)

// RawPayloads is what a store's own tests add to it so that the suite can
// see an event's payload column as stored (package packed), and write one
// as a store that did not pack payloads yet would have.
type RawPayloads interface {
	StoredPayload(ctx context.Context, eventID string) ([]byte, error)
	SetStoredPayload(ctx context.Context, eventID string, stored []byte) error
}

// testEventPayloads: a payload is stored as sent, packed when a worker
// completes its event (store.PackedPayload), and every read gives back
// the bytes the host sent — also for a payload stored before packing
// existed.
func testEventPayloads(t *testing.T, open ClockOpener) {
	// A kilobyte of JSON as a helpdesk sends it: spacing, key order and
	// escapes are the host's and must come back unchanged.
	big := func(n int) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{ "conversation": {"id": "c-%d", "status": "open"},
  "message": {"body": %q, "z": [2, 1], "emoji": "\u00e9 \ud83d\ude00"}}`,
			n, strings.Repeat("my order arrived damaged, please help. ", 25)))
	}
	withPayload := func(q *queue, conversation string, p json.RawMessage) store.NewEvent {
		e := q.event(conversation, 0)
		e.Payload = p
		return e
	}

	t.Run("ReadVerbatimEverywhere", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		small := json.RawMessage(`{"a": 1}`)
		evs := q.ingest(t, withPayload(q, "c-1", big(1)), withPayload(q, "c-2", small))
		want := map[string]json.RawMessage{evs[0].ID: big(1), evs[1].ID: small}
		check := func(how string, e store.Event) {
			t.Helper()
			if !bytes.Equal(e.Payload, want[e.ID]) {
				t.Errorf("%s %s: payload = %.80s…, want the bytes sent", how, e.ID, e.Payload)
			}
		}
		for id := range want {
			check("GetEvent", q.get(t, id))
		}
		listed, _, err := q.s.ListEvents(t.Context(), q.ws.ID, store.EventFilter{}, store.ListQuery{Limit: 10})
		if err != nil || len(listed) != 2 {
			t.Fatalf("ListEvents = %d events, %v; want 2", len(listed), err)
		}
		for _, e := range listed {
			check("ListEvents", e)
		}
		claims := q.claim(t, "w", 10)
		if len(claims) != 2 {
			t.Fatalf("claimed %d events, want 2", len(claims))
		}
		for _, c := range claims {
			check("ClaimEvents", c.Event)
		}
		q.completeOK(t, claims...) // packs the large one, leaves the small one
		for id := range want {
			check("GetEvent after completion", q.get(t, id))
		}
	})

	t.Run("HandedOffAtIngestion", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		g := &store.IngestGroup{Events: []store.NewEvent{withPayload(q, "c-1", big(2))}}
		claims, err := q.s.IngestAndClaim(t.Context(), []*store.IngestGroup{g},
			store.HandOff{Owner: "w", Limit: 1, Lease: lease})
		if err != nil || len(claims) != 1 {
			t.Fatalf("IngestAndClaim = %d claims, %v; want 1", len(claims), err)
		}
		if !bytes.Equal(claims[0].Event.Payload, big(2)) {
			t.Errorf("handed-off payload = %.80s…, want the bytes sent", claims[0].Event.Payload)
		}
		if got := q.get(t, claims[0].Event.ID); !bytes.Equal(got.Payload, big(2)) {
			t.Errorf("stored payload = %.80s…, want the bytes sent", got.Payload)
		}
	})

	t.Run("PackedOnCompletionAndLegacyRowsRead", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		raw, ok := q.s.(RawPayloads)
		if !ok {
			t.Skip("the store does not expose its payload column (RawPayloads)")
		}
		evs := q.ingest(t, withPayload(q, "c-1", big(3)), withPayload(q, "c-2", big(4)))
		stored, err := raw.StoredPayload(t.Context(), evs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(stored, big(3)) {
			t.Errorf("at ingestion the payload is stored as %.40q…, want it as sent", stored)
		}
		q.completeOK(t, q.claim(t, "w", 10)...)
		for i, want := range []json.RawMessage{big(3), big(4)} {
			stored, err := raw.StoredPayload(t.Context(), evs[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			if !packed.IsPacked(stored) || len(stored) >= len(want)*3/4 {
				t.Errorf("completed: a %d-byte payload is stored in %d bytes (packed %v), want it packed to less than 3/4",
					len(want), len(stored), packed.IsPacked(stored))
			}
			if got := q.get(t, evs[i].ID); !bytes.Equal(got.Payload, want) {
				t.Errorf("completed: payload = %.80s…, want the bytes sent", got.Payload)
			}
		}
		// A row written before payloads were packed holds the bytes as sent.
		if err := raw.SetStoredPayload(t.Context(), evs[1].ID, big(4)); err != nil {
			t.Fatal(err)
		}
		if got := q.get(t, evs[1].ID); !bytes.Equal(got.Payload, big(4)) {
			t.Errorf("legacy payload = %.80s…, want it as stored", got.Payload)
		}
		// A corrupt packed value fails its read with an error, not a panic
		// or a wrong payload.
		if err := raw.SetStoredPayload(t.Context(), evs[1].ID, []byte{packed.Mark, 0xff, 0x00}); err != nil {
			t.Fatal(err)
		}
		if _, err := q.s.GetEvent(t.Context(), q.ws.ID, evs[1].ID); err == nil {
			t.Error("GetEvent of a corrupt payload succeeded")
		}
	})
}
