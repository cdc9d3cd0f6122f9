package engine

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/k3a/html2text"

	"github.com/switchboard-hq/switchboard/internal/rules"
)

// benchPayload is a realistic inbound-message payload (about 1.5 KB).
var benchPayload = []byte(`{
  "conversation": {"id": "c_8f14e45f", "status": "OPEN", "subject": "Order #4711 arrived damaged",
    "channel": "email", "assignee_id": null, "tags": ["billing", "Priority-Customer", "emea"], "priority": "high"},
  "message": {"id": "m_1", "from_email": "Ann.Lee@Example.com", "subject": "Re: Order #4711 arrived damaged",
    "body": "<div><p>Hello team,</p><p>my <b>order</b> arrived damaged &mdash; the box was crushed and two items are broken.</p><p>Could you send a replacement? Order number: 4711.</p><p>Thanks,<br>Ann</p></div>",
    "headers": {"Message-ID": "<abc@example.com>", "From": "Ann Lee <Ann.Lee@Example.com>"}, "direction": "incoming"},
  "contact": {"id": "ct_99", "email": "Ann.Lee@Example.com", "name": "Ann Lee", "locale": "en-GB"},
  "custom": {"score": 42, "plan": "Enterprise", "seats": "250", "renewal_at": "2027-01-15T00:00:00Z", "vip": true,
    "notes": "Customer since 2019; prefers email; escalations go to the account manager."}
}`)

// benchRules returns n rules of 5 conditions each over benchPayload: the
// first four hold, the fifth fails, so every condition of every rule is
// evaluated and no rule matches. With shared set, two conditions are the
// same in every rule, one comes in 40 variants and two are the rule's own
// (as in a real workspace, where "status is open" is in many rules); with
// shared unset, every condition is the rule's own, so nothing is computed
// once for several rules.
func benchRules(n int, shared bool) []rules.Rule {
	rs := make([]rules.Rule, n)
	for i := range rs {
		conds := fmt.Sprintf(`[
			{"field":"conversation.status","operator":"equals","value":"open"},
			{"field":"message.subject","operator":"not_contains","value":"zz%[1]d"},
			{"field":"contact.email","operator":"ends_with","value":"@example.com"},
			{"field":"custom.score","operator":"gt","value":%[2]d},
			{"field":"conversation.tags","operator":"contains","value":"vip-%[1]d"}]`, i, i%40)
		if !shared {
			conds = fmt.Sprintf(`[
			{"field":"conversation.status","operator":"in","value":["open","s%[1]d"]},
			{"field":"message.subject","operator":"not_contains","value":"zz%[1]d"},
			{"field":"contact.email","operator":"not_equals","value":"x%[1]d@example.com"},
			{"field":"custom.score","operator":"gt","value":"%[1]d.5e-3"},
			{"field":"conversation.tags","operator":"contains","value":"vip-%[1]d"}]`, i)
		}
		rs[i] = rules.Rule{
			ID: int64(i + 1), Name: fmt.Sprintf("rule %d", i), IsActive: true,
			TriggerType: rules.TriggerIncoming, Conditions: json.RawMessage(conds),
			Actions:  []rules.Action{{Type: rules.ActionAddNote, Body: ptr("Hi {{contact.name}}")}},
			Priority: i, RolloutPercentage: 100,
		}
	}
	return rs
}

// exprSource is rule i of benchRules(n, true) in expr's language, with the
// same case-insensitivity and short-circuiting.
func exprSource(i int) string {
	return fmt.Sprintf(`lower(conversation.status) == "open" && !(lower(message.subject) contains "zz%[1]d") && `+
		`lower(contact.email) endsWith "@example.com" && custom.score > %[2]d && `+
		`any(conversation.tags, {lower(#) == "vip-%[1]d"})`, i, i%40)
}

func benchInput() *Input {
	return &Input{
		EventID: "ev_1", Type: rules.TriggerIncoming, Source: "api", ChannelSource: "email",
		OccurredAt: time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC), ConversationID: "c_8f14e45f",
		Payload: benchPayload, Now: time.Date(2026, 11, 22, 10, 30, 1, 0, time.UTC),
	}
}

// BenchmarkEvaluate measures one event against n rules of 5 conditions,
// all evaluated, none matching, all effective: the steady state of a
// worker that reuses its Plan. It includes indexing the payload.
func BenchmarkEvaluate(b *testing.B) {
	for _, shared := range []bool{true, false} {
		for _, n := range []int{10, 100, 1000} {
			name := fmt.Sprintf("rules=%d/shared", n)
			if !shared {
				name = fmt.Sprintf("rules=%d/distinct", n)
			}
			b.Run(name, func(b *testing.B) {
				p, err := Compile(benchRules(n, shared), CompileOptions{})
				if err != nil {
					b.Fatal(err)
				}
				in := benchInput()
				var plan Plan
				if err := p.Evaluate(in, &plan); err != nil || len(plan.Runs) != n {
					b.Fatalf("setup: err %v, %d runs", err, len(plan.Runs))
				}
				for _, r := range plan.Runs {
					if r.Matched || r.Failure.Path != "conditions[4]" {
						b.Fatalf("rule %d: matched %v, failing %q; want the fifth condition to fail", r.Rule.ID, r.Matched, r.Failure.Path)
					}
				}
				b.ReportAllocs()
				start := cpuTime()
				for b.Loop() {
					_ = p.Evaluate(in, &plan)
				}
				b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// BenchmarkExpr runs the same conditions as BenchmarkEvaluate through
// compiled expr programs, decoding the payload with encoding/json as expr
// needs, and reports how many times faster the engine is.
func BenchmarkExpr(b *testing.B) {
	const n = 1000
	progs := make([]*vm.Program, n)
	for i := range progs {
		var env map[string]any
		_ = json.Unmarshal(benchPayload, &env)
		prog, err := expr.Compile(exprSource(i), expr.Env(env), expr.AsBool())
		if err != nil {
			b.Fatal(err)
		}
		progs[i] = prog
	}
	p, _ := Compile(benchRules(n, true), CompileOptions{})
	in := benchInput()
	var plan Plan

	var exprNs float64
	b.Run("expr", func(b *testing.B) {
		var machine vm.VM
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			var env map[string]any
			if err := json.Unmarshal(benchPayload, &env); err != nil {
				b.Fatal(err)
			}
			matched := 0
			for _, prog := range progs {
				out, err := machine.Run(prog, env)
				if err != nil {
					b.Fatal(err)
				}
				if out.(bool) {
					matched++
				}
			}
			if matched != 0 {
				b.Fatalf("expr matched %d rules", matched)
			}
		}
		exprNs = float64(cpuTime()-start) / float64(b.N)
		b.ReportMetric(exprNs, "cpu-ns/op")
	})
	// Sub-benchmarks run in order, so the engine's ratio is against the
	// expr run just measured, both in CPU time.
	b.Run("engine", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			_ = p.Evaluate(in, &plan)
		}
		engineNs := float64(cpuTime()-start) / float64(b.N)
		b.ReportMetric(engineNs, "cpu-ns/op")
		if engineNs > 0 {
			b.ReportMetric(exprNs/engineNs, "x-faster-than-expr")
		}
	})
}

// BenchmarkPayload compares indexing the payload with decoding it into
// map[string]any, the alternative representation.
func BenchmarkPayload(b *testing.B) {
	b.Run("index", func(b *testing.B) {
		var d document
		b.ReportAllocs()
		for b.Loop() {
			_ = d.parse(benchPayload)
		}
	})
	b.Run("encoding-json-map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			_ = json.Unmarshal(benchPayload, &m)
		}
	})
}

// BenchmarkHTMLText compares the body_contains stripper with html2text.
func BenchmarkHTMLText(b *testing.B) {
	var d document
	_ = d.parse(benchPayload)
	var scratch []byte
	body := d.appendString(nil, d.lookup([]string{"message", "body"}, &scratch))
	b.Run("appendText", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			buf = appendText(buf[:0], body)
		}
	})
	b.Run("html2text", func(b *testing.B) {
		s := string(body)
		b.ReportAllocs()
		for b.Loop() {
			_ = html2text.HTML2Text(s)
		}
	})
}

func ptr[T any](v T) *T { return &v }
