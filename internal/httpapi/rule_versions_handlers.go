package httpapi

import (
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// ruleVersionResponse is one change of a rule's definition (docs/concepts.md#rule-history), with the whole rule as it was right after it.
type ruleVersionResponse struct {
	Version       int          `json:"version"`
	ChangedAt     Time         `json:"changed_at"`
	ChangedBy     *int64       `json:"changed_by"`
	ChangedFields []string     `json:"changed_fields"`
	Rule          ruleResponse `json:"rule"`
}

func toRuleVersion(v store.RuleVersion, now time.Time) ruleVersionResponse {
	fields := v.ChangedFields
	if fields == nil {
		fields = []string{}
	}
	return ruleVersionResponse{Version: v.Version, ChangedAt: apiTime(v.ChangedAt), ChangedBy: v.ChangedBy,
		ChangedFields: fields, Rule: toRule(v.Rule, now)}
}

// versionPath reads the rule id and the version number of the path. A
// number no version can have (versions count from 1, and the store keeps
// them in a 32-bit column) is the same 404 as one that does not exist.
func versionPath(r *http.Request) (ruleID int64, n int, err error) {
	if ruleID, err = pathID(r, "id", "rule"); err != nil {
		return 0, 0, err
	}
	v, err := pathID(r, "n", "rule version")
	if err != nil || v > math.MaxInt32 {
		return 0, 0, errNotFound("rule version")
	}
	return ruleID, int(v), nil
}

func (a *API) listRuleVersions(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id", "rule")
	if err != nil {
		return err
	}
	pq, err := parsePage(r.URL.Query(), false)
	if err != nil {
		return err
	}
	now := a.clock.Now()
	vs, total, err := a.store.ListRuleVersions(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, id, pq.storePage())
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("rule")
	}
	if err != nil {
		return err
	}
	out := make([]ruleVersionResponse, len(vs))
	for i, v := range vs {
		out[i] = toRuleVersion(v, now)
	}
	return writeJSON(w, http.StatusOK, offsetEnvelope(pq, out, total))
}

func (a *API) getRuleVersion(w http.ResponseWriter, r *http.Request) error {
	id, n, err := versionPath(r)
	if err != nil {
		return err
	}
	v, err := a.store.GetRuleVersion(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, id, n)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("rule version")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toRuleVersion(v, a.clock.Now()))
}

// restoreRuleVersion makes a new version whose definition is version n's;
// the rule keeps its priority, counters and snooze. The restored rule must
// pass today's validation, and the tags and lists it uses must still
// exist (422 naming them otherwise; nothing changes).
func (a *API) restoreRuleVersion(w http.ResponseWriter, r *http.Request) error {
	id, n, err := versionPath(r)
	if err != nil {
		return err
	}
	cur, err := a.loadRule(r)
	if err != nil {
		return err
	}
	v, err := a.store.GetRuleVersion(r.Context(), cur.WorkspaceID, id, n)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("rule version")
	}
	if err != nil {
		return err
	}
	candidate := v.Rule
	candidate.WorkspaceID, candidate.Priority = cur.WorkspaceID, cur.Priority
	if err := a.validateRule(r, &candidate); err != nil {
		return err
	}
	by := principalFrom(r.Context()).Member.ID
	restored, err := a.store.RestoreRuleVersion(r.Context(), cur.WorkspaceID, id, n, &by)
	if err != nil {
		return saveErr(err)
	}
	a.changed(cur.WorkspaceID)
	return writeJSON(w, http.StatusOK, toRule(restored, a.clock.Now()))
}
