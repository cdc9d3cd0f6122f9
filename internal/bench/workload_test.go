package bench

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/engine"
	"github.com/switchboard-hq/switchboard/internal/rules"
)

// toRules turns the specs into the rule model, as the API would store them.
func toRules(t *testing.T, specs []ruleSpec) []rules.Rule {
	t.Helper()
	out := make([]rules.Rule, len(specs))
	for i, s := range specs {
		conds, err := json.Marshal(s.Conditions)
		if err != nil {
			t.Fatal(err)
		}
		rawActions, err := json.Marshal(s.Actions)
		if err != nil {
			t.Fatal(err)
		}
		var actions []rules.Action
		if err := json.Unmarshal(rawActions, &actions); err != nil {
			t.Fatal(err)
		}
		out[i] = rules.Rule{ID: int64(i + 1), Name: s.Name, IsActive: true, TriggerType: s.TriggerType, TriggerData: s.TriggerData,
			Conditions: conds, Actions: actions, Priority: i, RolloutPercentage: 100}
		if errs := out[i].Validate(); len(errs) > 0 {
			t.Fatalf("rule %d (%s) is invalid: %v", i, s.Name, errs)
		}
	}
	return out
}

// TestWorkloadRules checks the shape the bench promises (3–5 conditions,
// 1–2 actions, several triggers) and, through the real engine, that every
// bench event matches exactly the rules marked Matches — a tenth of them —
// also after earlier rules' actions changed the conversation.
func TestWorkloadRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n, matching, onTrigger int
	}{
		{n: 0},
		{n: 1, matching: 1, onTrigger: 1},
		{n: 5, matching: 1, onTrigger: 5},
		{n: 10, matching: 1, onTrigger: 7},
		{n: 100, matching: 10, onTrigger: 70},
		{n: 253, matching: 26, onTrigger: 178},
	}
	tags := []engine.Tag{{ID: 11, Name: "a"}, {ID: 12, Name: "b"}, {ID: 13, Name: "c"}}
	gen := newEventGen(1024, 50)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tt := range tests {
		specs := workloadRules(tt.n, []int64{11, 12, 13})
		if len(specs) != tt.n {
			t.Fatalf("n=%d: %d rules", tt.n, len(specs))
		}
		matching, onTrigger := 0, 0
		triggers := map[string]bool{}
		for _, s := range specs {
			if c := len(s.Conditions); c < 3 || c > 5 {
				t.Errorf("n=%d: %s has %d conditions", tt.n, s.Name, c)
			}
			if a := len(s.Actions); a < 1 || a > 2 {
				t.Errorf("n=%d: %s has %d actions", tt.n, s.Name, a)
			}
			if s.Matches {
				matching++
			}
			if s.TriggerType == benchTrigger {
				onTrigger++
			}
			triggers[s.TriggerType] = true
		}
		if matching != tt.matching || onTrigger != tt.onTrigger {
			t.Errorf("n=%d: %d matching, %d on %s; want %d, %d", tt.n, matching, onTrigger, benchTrigger, tt.matching, tt.onTrigger)
		}
		if tt.n >= 100 && len(triggers) < 5 {
			t.Errorf("n=%d: only %d triggers: %v", tt.n, len(triggers), triggers)
		}

		prog, err := engine.Compile(toRules(t, specs), engine.CompileOptions{Timezone: "UTC", Tags: tags})
		if err != nil {
			t.Fatalf("n=%d: compile: %v", tt.n, err)
		}
		for seq := range 20 {
			var ev struct {
				EventType      string          `json:"event_type"`
				ConversationID string          `json:"conversation_id"`
				Payload        json.RawMessage `json:"payload"`
			}
			if err := json.Unmarshal(gen.body(rng, 1, seq), &ev); err != nil {
				t.Fatal(err)
			}
			var plan engine.Plan
			in := &engine.Input{EventID: "e", Type: ev.EventType, ConversationID: ev.ConversationID, Payload: ev.Payload, Now: time.Now()}
			if err := prog.Evaluate(in, &plan); err != nil {
				t.Fatal(err)
			}
			if len(plan.Runs) != tt.onTrigger {
				t.Errorf("n=%d: %d runs, want one per rule on the trigger (%d)", tt.n, len(plan.Runs), tt.onTrigger)
			}
			for _, run := range plan.Runs {
				if want := specs[run.Rule.ID-1].Matches; run.Matched != want {
					t.Errorf("n=%d: rule %s matched=%v, want %v", tt.n, run.Rule.Name, run.Matched, want)
				}
			}
		}
	}
}

// TestEventGen checks the events are valid JSON of about the requested
// size, carry what the conditions read, and are not all alike.
func TestEventGen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		size, min, max int
	}{
		{size: 1024, min: 1000, max: 1050},
		{size: 4096, min: 4070, max: 4120},
		{size: 0, min: 700, max: 1000}, // never below the template
	}
	for _, tt := range tests {
		gen := newEventGen(tt.size, 10000)
		rng := rand.New(rand.NewPCG(5, 6))
		ids := map[string]bool{}
		convs := map[string]bool{}
		for seq := range 200 {
			raw := gen.body(rng, 2, seq)
			if len(raw) < tt.min || len(raw) > tt.max {
				t.Errorf("size %d: body of %d bytes, want %d..%d", tt.size, len(raw), tt.min, tt.max)
			}
			var ev struct {
				EventType      string `json:"event_type"`
				ConversationID string `json:"conversation_id"`
				Payload        struct {
					Message struct {
						ID      string            `json:"id"`
						Subject string            `json:"subject"`
						Body    string            `json:"body"`
						Headers map[string]string `json:"headers"`
					} `json:"message"`
					Contact struct {
						Email string `json:"email"`
					} `json:"contact"`
				} `json:"payload"`
			}
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatalf("size %d: %v: %s", tt.size, err, raw)
			}
			m := ev.Payload.Message
			if ev.EventType != benchTrigger || m.Subject == "" || m.Body == "" || m.Headers["Message-ID"] == "" || ev.Payload.Contact.Email == "" {
				t.Fatalf("size %d: incomplete event: %s", tt.size, raw)
			}
			ids[m.ID] = true
			convs[ev.ConversationID] = true
		}
		if len(ids) != 200 {
			t.Errorf("size %d: %d distinct message ids of 200", tt.size, len(ids))
		}
		if len(convs) < 150 {
			t.Errorf("size %d: only %d conversations among 200 events of 10,000", tt.size, len(convs))
		}
	}
}
