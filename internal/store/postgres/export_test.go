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
