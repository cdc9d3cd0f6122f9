package store

import (
	"testing"
	"testing/fstest"
)

func TestParseMigrations(t *testing.T) {
	t.Parallel()
	steps, err := ParseMigrations(fstest.MapFS{
		"m/0010_later.sql":  {Data: []byte("SELECT 10")},
		"m/0002_second.sql": {Data: []byte("SELECT 2")},
		"m/README.md":       {Data: []byte("not a step")},
	}, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[0] != (Migration{2, "0002_second.sql", "SELECT 2"}) ||
		steps[1] != (Migration{10, "0010_later.sql", "SELECT 10"}) {
		t.Fatalf("ParseMigrations = %+v", steps)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"no version":     {"m/init.sql": {}},
		"zero version":   {"m/0000_zero.sql": {}},
		"shared version": {"m/0001_a.sql": {}, "m/1_b.sql": {}},
	} {
		if _, err := ParseMigrations(fsys, "m"); err == nil {
			t.Errorf("%s: ParseMigrations accepted %v", name, fsys)
		}
	}
}
