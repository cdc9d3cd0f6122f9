package storetest_test

import (
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
)

// TestOpenWithClock checks, on each dialect, that the store stamps times
// from the clock it was given, so tests of other packages can drive time.
func TestOpenWithClock(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			start := time.Date(2030, 7, 14, 10, 0, 0, 123_456_789, time.UTC)
			clk := clock.NewFake(start)
			s := storetest.OpenWithClock(t, dialect, clk)
			if s.Dialect() != dialect {
				t.Fatalf("Dialect() = %q, want %q", s.Dialect(), dialect)
			}
			at := func(what string, got, want time.Time) {
				t.Helper()
				if want = want.Truncate(time.Millisecond); !got.Equal(want) {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}

			w, m, tok, err := s.CreateWorkspace(t.Context(), store.NewWorkspace{
				Name: "acme", Secret: "whsec_a", AdminName: "A", AdminEmail: "a@acme.test",
				TokenName: "t", TokenHash: auth.HashToken("t"), TokenHint: "sbt_",
			})
			if err != nil {
				t.Fatalf("CreateWorkspace: %v", err)
			}
			at("workspace CreatedAt", w.CreatedAt, start)
			at("member CreatedAt", m.CreatedAt, start)
			at("token CreatedAt", tok.CreatedAt, start)
			ctl, err := s.GetControl(t.Context(), w.ID)
			if err != nil {
				t.Fatalf("GetControl: %v", err)
			}
			at("default control UpdatedAt", ctl.UpdatedAt, start)

			clk.Advance(time.Hour)
			created := clk.Now()
			r, err := s.CreateRule(t.Context(), rules.Rule{
				WorkspaceID: w.ID, Name: "r", IsActive: true, TriggerType: rules.TriggerIncoming,
				Actions:           []rules.Action{{Type: rules.ActionAddNote, Body: new(string)}},
				RolloutPercentage: 100,
			}, nil)
			if err != nil {
				t.Fatalf("CreateRule: %v", err)
			}
			at("rule CreatedAt", r.CreatedAt, created)
			at("rule UpdatedAt", r.UpdatedAt, created)
			at("rule ActivatedAt", r.ActivatedAt, created)

			clk.Advance(time.Minute)
			r.IsActive = false
			r, err = s.UpdateRule(t.Context(), r)
			if err != nil {
				t.Fatalf("UpdateRule: %v", err)
			}
			at("UpdatedAt after switching off", r.UpdatedAt, clk.Now())
			at("ActivatedAt after switching off", r.ActivatedAt, created)

			clk.Advance(time.Minute)
			r.IsActive = true
			r, err = s.UpdateRule(t.Context(), r)
			if err != nil {
				t.Fatalf("UpdateRule: %v", err)
			}
			at("ActivatedAt after switching on", r.ActivatedAt, clk.Now())

			clk.Advance(time.Minute)
			until := clk.Now().Add(time.Hour)
			r, err = s.SnoozeRule(t.Context(), w.ID, r.ID, &until, nil)
			if err != nil {
				t.Fatalf("SnoozeRule: %v", err)
			}
			at("UpdatedAt after snoozing", r.UpdatedAt, clk.Now())
			snoozed, total, err := s.ListSnoozedRules(t.Context(), w.ID, clk.Now(), store.RuleFilter{}, store.Page{Limit: 10})
			if err != nil || total != 1 || len(snoozed) != 1 {
				t.Fatalf("ListSnoozedRules = %d rules (total %d), %v; want the snoozed rule", len(snoozed), total, err)
			}

			clk.Advance(time.Minute)
			ctl, err = s.PutControl(t.Context(), store.Control{WorkspaceID: w.ID, IsPaused: true})
			if err != nil {
				t.Fatalf("PutControl: %v", err)
			}
			at("control UpdatedAt", ctl.UpdatedAt, clk.Now())
			w, err = s.RotateSecret(t.Context(), w.ID, "whsec_b", clk.Now().Add(24*time.Hour))
			if err != nil {
				t.Fatalf("RotateSecret: %v", err)
			}
			at("workspace UpdatedAt after rotation", w.UpdatedAt, clk.Now())
		})
	}
}
