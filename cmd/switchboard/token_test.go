package main

import (
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// TestResolveWorkspace: defect 11. Workspace names are display names, so
// `token create --workspace` takes an id or a name only one workspace
// has, and asks for the id when the name is shared, never guessing.
func TestResolveWorkspace(t *testing.T) {
	t.Parallel()
	all := []store.Workspace{{ID: 1, Name: "default"}, {ID: 2, Name: "acme"}, {ID: 3, Name: "acme"}, {ID: 4, Name: "1"}, {ID: 5, Name: "5"}}
	byID := func(id int64) (store.Workspace, error) {
		for _, w := range all {
			if w.ID == id {
				return w, nil
			}
		}
		return store.Workspace{}, store.ErrNotFound
	}
	byName := func(name string) ([]store.Workspace, error) {
		var out []store.Workspace
		for _, w := range all {
			if w.Name == name {
				out = append(out, w)
			}
		}
		return out, nil
	}
	tests := []struct {
		ref    string
		want   int64  // 0: an error
		errHas string // part of the error
	}{
		{ref: "default", want: 1},
		{ref: "2", want: 2},
		{ref: "3", want: 3},
		{ref: "acme", errHas: "ids 2, 3"},
		{ref: "1", errHas: "ids 1, 4"}, // an id and another workspace's name
		{ref: "5", want: 5},            // the id and the name of one workspace
		{ref: "globex", errHas: "no workspace"},
		{ref: "99", errHas: "no workspace"},
	}
	for _, tt := range tests {
		w, err := resolveWorkspace(tt.ref, byID, byName)
		switch {
		case tt.want != 0 && (err != nil || w.ID != tt.want):
			t.Errorf("resolveWorkspace(%q) = %d, %v; want %d", tt.ref, w.ID, err, tt.want)
		case tt.want == 0 && (err == nil || !strings.Contains(err.Error(), tt.errHas)):
			t.Errorf("resolveWorkspace(%q) = %d, %v; want an error with %q", tt.ref, w.ID, err, tt.errHas)
		}
	}
}
