package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store/storetest"
)

// TestChangeFeed runs two nodes on one schema: a change published through
// one reaches the other's subscriber within a second, and a subscriber
// whose connection dies reconnects and reports "anything may have
// changed" (workspace 0).
func TestChangeFeed(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	app := "feedtest_" + hex.EncodeToString(b[:])
	publisher := open(t, url)
	subscriber := open(t, url+"&application_name="+app)
	if err := publisher.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}

	// NOTIFY channels are per database, and other tests may publish on
	// it: this test listens for workspace ids of its own.
	n, err := rand.Int(rand.Reader, big.NewInt(1<<40))
	if err != nil {
		t.Fatal(err)
	}
	ws := n.Int64() + 1<<40
	got := make(chan int64, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- subscriber.SubscribeRulesChanged(ctx, func(id int64) { got <- id }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("SubscribeRulesChanged returned %v, want context.Canceled", err)
		}
	})

	// wait waits for the id, skipping other tests' notifications.
	wait := func(want int64, within time.Duration) bool {
		deadline := time.After(within)
		for {
			select {
			case id := <-got:
				if id == want {
					return true
				}
			case <-deadline:
				return false
			}
		}
	}
	// The subscriber is listening once a publication gets through.
	listening := false
	for range 50 {
		if err := publisher.PublishRulesChanged(t.Context(), ws); err != nil {
			t.Fatalf("PublishRulesChanged: %v", err)
		}
		if listening = wait(ws, 100*time.Millisecond); listening {
			break
		}
	}
	if !listening {
		t.Fatal("the subscriber never received a change")
	}
	start := time.Now()
	if err := publisher.PublishRulesChanged(t.Context(), ws+1); err != nil {
		t.Fatalf("PublishRulesChanged: %v", err)
	}
	if !wait(ws+1, time.Second) {
		t.Fatal("a change did not reach the other node within 1 s")
	}
	t.Logf("change delivered in %v", time.Since(start))

	// Kill the subscriber's session: it must come back and say so.
	var killed int
	err = publisher.Pool().QueryRow(t.Context(), `
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND query LIKE 'LISTEN%'`, app).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminating the listening session: %d killed, %v", killed, err)
	}
	if !wait(0, 5*time.Second) {
		t.Fatal("no fn(0) after the subscriber's connection died")
	}
	for range 50 {
		if err := publisher.PublishRulesChanged(t.Context(), ws+2); err != nil {
			t.Fatalf("PublishRulesChanged: %v", err)
		}
		if wait(ws+2, 100*time.Millisecond) {
			return
		}
	}
	t.Fatal("no change received after the reconnect")
}
