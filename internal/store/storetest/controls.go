package storetest

import (
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

func testControls(t *testing.T, open Opener) {
	t.Run("DefaultBeforeTheFirstWrite", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		got, err := f.s.GetControl(t.Context(), f.ws.ID)
		wantErr(t, "GetControl", err, nil)
		wantDiff(t, "default control", store.Control{WorkspaceID: f.ws.ID, UpdatedAt: f.ws.CreatedAt}, got)
	})

	t.Run("PutReplaces", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		until := time.Date(2030, 1, 1, 8, 30, 0, 250_999_999, time.UTC)
		win := openWindow()
		got, err := f.s.PutControl(t.Context(), store.Control{
			WorkspaceID: f.ws.ID, IsPaused: true, PauseReason: ptr("incident 42"), PausedUntil: &until,
			UpdatedBy: ptr(f.admin.ID), UpdatedAt: time.Unix(0, 0), // UpdatedAt is the store's to set
		})
		wantErr(t, "PutControl", err, nil)
		win.check(t, "UpdatedAt", got.UpdatedAt)
		want := store.Control{
			WorkspaceID: f.ws.ID, IsPaused: true, PauseReason: ptr("incident 42"),
			PausedUntil: ptr(until.Truncate(time.Millisecond)), UpdatedAt: got.UpdatedAt, UpdatedBy: ptr(f.admin.ID),
		}
		wantDiff(t, "put control", want, got)
		again, err := f.s.GetControl(t.Context(), f.ws.ID)
		wantErr(t, "GetControl", err, nil)
		wantDiff(t, "GetControl after put", want, again)

		// A PUT replaces the whole record: absent fields are cleared.
		got, err = f.s.PutControl(t.Context(), store.Control{WorkspaceID: f.ws.ID})
		wantErr(t, "second PutControl", err, nil)
		wantDiff(t, "replaced control", store.Control{WorkspaceID: f.ws.ID, UpdatedAt: got.UpdatedAt}, got)
		again, err = f.s.GetControl(t.Context(), f.ws.ID)
		wantErr(t, "GetControl", err, nil)
		wantDiff(t, "GetControl after replace", got, again)
	})

	t.Run("UnknownWorkspace", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		_, err := s.GetControl(t.Context(), 424242)
		wantErr(t, "GetControl", err, store.ErrNotFound)
		_, err = s.PutControl(t.Context(), store.Control{WorkspaceID: 424242, IsPaused: true})
		wantErr(t, "PutControl", err, store.ErrNotFound)
	})
}

func testTimes(t *testing.T, open Opener) {
	t.Run("MillisecondsInUTC", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		// Sub-millisecond digits and a non-UTC zone: stored as the same
		// instant, truncated (not rounded) to the millisecond, read in UTC.
		in := time.Date(2029, 12, 31, 23, 59, 59, 999_999_999, time.FixedZone("NPT", 5*3600+45*60))
		want := in.UTC().Truncate(time.Millisecond)
		w, err := f.s.RotateSecret(t.Context(), f.ws.ID, "whsec_b", in)
		wantErr(t, "RotateSecret", err, nil)
		r, err := f.s.SnoozeRule(t.Context(), f.ws.ID, f.rule(t, "r", nil).ID, &in, nil)
		wantErr(t, "SnoozeRule", err, nil)
		c, err := f.s.PutControl(t.Context(), store.Control{WorkspaceID: f.ws.ID, IsPaused: true, PausedUntil: &in})
		wantErr(t, "PutControl", err, nil)
		for what, got := range map[string]*time.Time{
			"PreviousSecretUntil": w.PreviousSecretUntil,
			"SnoozedUntil":        r.SnoozedUntil,
			"PausedUntil":         c.PausedUntil,
		} {
			if got == nil || !got.Equal(want) {
				t.Errorf("%s = %v, want %v", what, got, want)
				continue
			}
			checkStored(t, what, *got)
		}
		for what, got := range map[string]time.Time{
			"workspace CreatedAt": f.ws.CreatedAt, "member CreatedAt": f.admin.CreatedAt,
			"token CreatedAt": f.token.CreatedAt, "rule CreatedAt": r.CreatedAt, "rule UpdatedAt": r.UpdatedAt,
			"rule ActivatedAt": r.ActivatedAt, "control UpdatedAt": c.UpdatedAt,
		} {
			checkStored(t, what, got)
		}
	})
}
