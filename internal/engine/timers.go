package engine

import (
	"time"

	"github.com/switchboard-hq/switchboard/internal/rules"
)

// TimeRule is an active time-based rule (time.unanswered_by_team or
// time.unanswered_by_client): the stretch it waits on and for how long.
type TimeRule struct {
	ID      int64
	Trigger string
	Wait    time.Duration
	// ActivatedAt is when the rule was created or last switched on: only
	// stretches begun after it count, so it never fires retroactively.
	ActivatedAt time.Time
}

// TimeRules returns the program's active rules of the time trigger, in
// processing order.
func (p *Program) TimeRules(trigger string) []TimeRule {
	ts := p.byTrigger[trigger]
	if ts == nil {
		return nil
	}
	out := make([]TimeRule, 0, len(ts.rules))
	for _, i := range ts.rules {
		r := p.rules[i].rule
		if r.TriggerData == nil {
			continue
		}
		wait, err := rules.ParseWaitDuration(*r.TriggerData)
		if err != nil {
			continue // validated when saved; never evaluated otherwise
		}
		out = append(out, TimeRule{ID: r.ID, Trigger: trigger, Wait: wait, ActivatedAt: r.ActivatedAt})
	}
	return out
}
