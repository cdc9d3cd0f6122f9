//go:build unix

package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/sqlite"
)

// TestDatabaseFilesAreOwnerOnly: the database and its -wal and -shm files
// hold signing secrets and SMTP passwords, so no other local user may
// read them (issue 7, "database readable by every local user").
func TestDatabaseFilesAreOwnerOnly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "switchboard.db")
	s := open(t, path, sqlite.Options{})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	// A write, so that the WAL and its index exist.
	if _, _, _, err := s.CreateWorkspace(t.Context(), store.NewWorkspace{Name: "acme", Secret: "whsec_x",
		AdminName: "Ann", AdminEmail: "ann@acme.test", TokenName: "t", TokenHash: auth.HashToken("t"), TokenHint: "sbt_"}); err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("stat %s: %v", p, err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", filepath.Base(p), mode)
		}
	}
}
