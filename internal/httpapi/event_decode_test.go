package httpapi

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/canonical"
)

// TestScanEventTakesTheFastPath pins which bodies the one-pass scanner
// reads itself: if the common shapes fell back to decodeJSON, ingestion
// would still be right, only slower, and no other test would notice.
func TestScanEventTakesTheFastPath(t *testing.T) {
	t.Parallel()
	fast := []string{
		`{"event_type":"conversations.created","payload":{}}`,
		` { "event_type" : "messages.incoming" , "conversation_id" : "c-1" , "payload" : {"b":[1,2.50,{"x":null}],"a":"é"} } ` + "\n",
		`{"payload":{"a":1},"event_type":"x","contact_id":null,"source":"api","channel_source":"email","caused_by":"0192f0c4-0000-7000-8000-000000000000","occurred_at":"2026-06-15T09:00:00.5+02:00"}`,
		`{}`,
		`{"occurred_at":null,"payload":{"k":"v"}}`,
	}
	for _, body := range fast {
		if _, ok := scanEvent([]byte(body)); !ok {
			t.Errorf("scanEvent(%s) fell back to the general decoder", body)
		}
	}
	slow := []string{
		`{"event_type":"x","event_type":"y","payload":{}}`,      // repeated key
		`{"EVENT_TYPE":"x","payload":{}}`,                       // case-folded key
		`{"event_type":"\u0078","payload":{}}`,                  // escape
		`{"event_type":"x","payload":{"a":1,"a":2}}`,            // not I-JSON
		`{"event_type":"x","payload":[1]}`,                      // not an object
		`{"event_type":"x","payload":null}`,                     // null payload
		`{"event_type":1,"payload":{}}`,                         // wrong type
		`{"event_type":"x","payload":{}} {}`,                    // trailing data
		`{"event_type":"x","payload":{},}`,                      // trailing comma
		`{"event_type":"x","idempotency_key":"k","payload":{}}`, // batch-only key
		`{"occurred_at":"yesterday","payload":{}}`,              // not a time
		"{\"event_type\":\"\xff\",\"payload\":{}}",              // invalid UTF-8
		`{"event_type":"x","payload":{}`,                        // unterminated
		`{"event_type":"x","unknown":true,"payload":{}}`,        // unknown key
	}
	for _, body := range slow {
		if _, ok := scanEvent([]byte(body)); ok {
			t.Errorf("scanEvent(%s) accepted a body only decodeJSON may judge", body)
		}
	}
}

func TestScanBatchTakesTheFastPath(t *testing.T) {
	t.Parallel()
	body := []byte(`{"events":[{"event_type":"a","payload":{"n":1}},` + "\n" + ` {"event_type":"b","idempotency_key":"k-2","payload":{}} ]}`)
	evs, ok := scanBatch(body)
	if !ok || len(evs) != 2 {
		t.Fatalf("scanBatch = %d events, %v; want 2, true", len(evs), ok)
	}
	if got, want := string(evs[1].raw), `{"event_type":"b","idempotency_key":"k-2","payload":{}}`; got != want {
		t.Errorf("raw of item 1 = %s, want %s", got, want)
	}
	if evs[1].IdempotencyKey.Value != "k-2" || evs[0].EventType.Value != "a" {
		t.Errorf("decoded %+v", evs)
	}
	for _, body := range []string{`{"events":[]}`, `{"events":[{}]}`} {
		if _, ok := scanBatch([]byte(body)); !ok {
			t.Errorf("scanBatch(%s) fell back", body)
		}
	}
	for _, body := range []string{`{"events":null}`, `{"events":[],"more":1}`, `{"events":[1]}`, `{"events":[{}],}`, `[]`} {
		if _, ok := scanBatch([]byte(body)); ok {
			t.Errorf("scanBatch(%s) accepted a body only decodeJSON may judge", body)
		}
	}
}

// FuzzScanEvent checks the fast path against the general decoder: any
// body scanEvent accepts, decodeJSON accepts too, with the same fields,
// and the payload hash is the canonical hash of the same payload bytes.
// The seed corpus is in testdata/fuzz/FuzzScanEvent.
func FuzzScanEvent(f *testing.F) {
	f.Add([]byte(`{"event_type":"messages.incoming","conversation_id":"c","payload":{"a":[1,"x",null]}}`))
	f.Add([]byte(`{"occurred_at":"2026-06-15T09:00:00Z","source":null,"payload":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := scanEvent(data)
		if !ok {
			return
		}
		var slow eventIn
		if err := decodeJSON(data, &slow); err != nil {
			t.Fatalf("scanEvent accepted %q, which decodeJSON refuses: %v", data, err)
		}
		if !reflect.DeepEqual(fast.eventIn, slow) {
			t.Fatalf("decoders disagree on %q:\nfast %+v\nslow %+v", data, fast.eventIn, slow)
		}
		if fast.Payload.Present() {
			want, err := canonical.Hash(slow.Payload.Value)
			if err != nil || fast.payloadHash != want {
				t.Fatalf("payload hash of %q = %s, want %s (%v)", data, fast.payloadHash, want, err)
			}
		}
	})
}

// FuzzScanBatch is FuzzScanEvent for batch bodies, with the raw item
// bytes the idempotency check hashes.
func FuzzScanBatch(f *testing.F) {
	f.Add([]byte(`{"events":[{"event_type":"a","idempotency_key":"k","payload":{"x":1}},{"payload":{}}]}`))
	f.Add([]byte(`{"events":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := scanBatch(data)
		if !ok {
			return
		}
		var slow batchIn
		if err := decodeJSON(data, &slow); err != nil {
			t.Fatalf("scanBatch accepted %q, which decodeJSON refuses: %v", data, err)
		}
		raws := batchItemsRaw(data)
		if len(fast) != len(slow.Events) || len(raws) != len(fast) {
			t.Fatalf("scanBatch(%q) read %d events, decodeJSON %d", data, len(fast), len(slow.Events))
		}
		for i := range fast {
			if !reflect.DeepEqual(fast[i].batchItem, slow.Events[i]) || string(fast[i].raw) != string(raws[i]) {
				t.Fatalf("decoders disagree on item %d of %q:\nfast %+v\nslow %+v", i, data, fast[i].batchItem, slow.Events[i])
			}
		}
	})
}

// TestWriteIngestedMatchesWriteJSON keeps the hand-written answer to an
// ingested event byte for byte what writeJSON writes.
func TestWriteIngestedMatchesWriteJSON(t *testing.T) {
	t.Parallel()
	for _, r := range []ingestedResponse{
		{ID: "0192f0c4-0000-7000-8000-000000000000", Status: "pending", PayloadHash: strings.Repeat("ab", 32)},
		{ID: "0192f0c4-0000-7000-8000-000000000001", Status: "processed", PayloadHash: strings.Repeat("0f", 32), Duplicate: true},
		{ID: "odd \"id\" <é>", Status: "pending"},
	} {
		fast, slow := httptest.NewRecorder(), httptest.NewRecorder()
		if err := writeIngested(fast, http.StatusAccepted, r); err != nil {
			t.Fatal(err)
		}
		if err := writeJSON(slow, http.StatusAccepted, r); err != nil {
			t.Fatal(err)
		}
		if fast.Body.String() != slow.Body.String() || fast.Code != slow.Code ||
			fast.Header().Get("Content-Type") != slow.Header().Get("Content-Type") {
			t.Errorf("writeIngested(%+v) = %d %q, writeJSON = %d %q", r, fast.Code, fast.Body, slow.Code, slow.Body)
		}
	}
}
