package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

var _ store.ChangeFeed = (*Store)(nil)

// rulesChannel is the NOTIFY channel of rule changes. Its payload is the
// workspace id in decimal.
const rulesChannel = "switchboard_rules"

// Reconnect backoff of SubscribeRulesChanged: doubling from the first to
// the last delay.
const (
	feedRetryFirst = 100 * time.Millisecond
	feedRetryMax   = 5 * time.Second
)

// PublishRulesChanged notifies every node listening on this database,
// this one included. Inside a transaction PostgreSQL would deliver the
// notification at commit; the store publishes after its own commits.
func (s *Store) PublishRulesChanged(ctx context.Context, workspaceID int64) error {
	_, err := s.pool.Exec(ctx, `SELECT pg_notify('`+rulesChannel+`', $1)`, strconv.FormatInt(workspaceID, 10))
	return wrap("publish a rules change", err)
}

// SubscribeRulesChanged holds one connection of the pool for LISTEN until
// ctx ends, calling fn for each notification. When the connection fails it
// reconnects with backoff and calls fn(0) once listening again:
// notifications sent while it was away are lost, so anything may have
// changed. It returns ctx's error when ctx ends.
func (s *Store) SubscribeRulesChanged(ctx context.Context, fn func(workspaceID int64)) error {
	delay := feedRetryFirst
	for reconnect := false; ; reconnect = true {
		if s.listen(ctx, fn, reconnect) {
			delay = feedRetryFirst // it worked for a while: start the backoff over
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, feedRetryMax)
	}
}

// listen runs one LISTEN session until its connection fails or ctx ends,
// and reports whether LISTEN succeeded. After a reconnect fn(0) runs as
// soon as it has.
func (s *Store) listen(ctx context.Context, fn func(int64), reconnected bool) bool {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false
	}
	// The session ends on a dead connection or with ctx: either way its
	// state (LISTEN, a notification half read) must not go back to the
	// pool.
	defer func() {
		_ = conn.Conn().Close(context.Background())
		conn.Release()
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+rulesChannel); err != nil {
		return false
	}
	if reconnected {
		fn(0)
	}
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return true
		}
		id, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil || n.Channel != rulesChannel {
			id = 0 // not ours to decode: refresh everything rather than miss a change
		}
		fn(id)
	}
}
