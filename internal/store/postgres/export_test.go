package postgres

import (
	"context"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// MigrateThrough applies the embedded migrations up to version only, so
// that a test can write data the earlier schema allowed and then migrate
// the rest. It swaps the package's migration list: tests that call it
// must not run in parallel.
func (s *Store) MigrateThrough(ctx context.Context, version int) error {
	all, err := loadMigrations()
	if err != nil {
		return err
	}
	var some []store.Migration
	for _, m := range all {
		if m.Version <= version {
			some = append(some, m)
		}
	}
	saved := loadMigrations
	loadMigrations = func() ([]store.Migration, error) { return some, nil }
	defer func() { loadMigrations = saved }()
	return s.Migrate(ctx)
}

// StoredPayload is an event's payload column as stored
// (storetest.RawPayloads).
func (s *Store) StoredPayload(ctx context.Context, eventID string) ([]byte, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT payload FROM events WHERE id = $1`, eventID).Scan(&b)
	return b, err
}

// SetStoredPayload overwrites an event's payload column
// (storetest.RawPayloads).
func (s *Store) SetStoredPayload(ctx context.Context, eventID string, stored []byte) error {
	_, err := s.pool.Exec(ctx, `UPDATE events SET payload = $1 WHERE id = $2`, stored, eventID)
	return err
}
