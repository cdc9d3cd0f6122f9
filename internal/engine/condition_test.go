package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/rules"
)

// TestOperators checks every operator against every kind of field value:
// string, number, numeric string, bool, time, array, null, object and a
// missing field. The field is custom.f; "-" as the field JSON leaves it out.
func TestOperators(t *testing.T) {
	t.Parallel()
	tests := []struct {
		field string // JSON of custom.f, or "-" for missing
		op    string
		value string // JSON of the condition's value, "" for none
		want  bool
	}{
		// equals
		{`"Open"`, "equals", `"open"`, true},
		{`"Open"`, "equals", `"opened"`, false},
		{`"ÉTÉ"`, "equals", `"été"`, true},
		{`1`, "equals", `"1"`, true},
		{`"1"`, "equals", `1`, true},
		{`1.0`, "equals", `1`, true},
		{`"1.0"`, "equals", `"1"`, false}, // two strings compare as text
		{`"01"`, "equals", `1`, true},
		{`2`, "equals", `"two"`, false},
		{`900000000000000001`, "equals", `900000000000000000`, false},
		{`true`, "equals", `true`, true},
		{`true`, "equals", `false`, false},
		{`true`, "equals", `"TRUE"`, true},
		{`"2026-01-01T00:00:00Z"`, "equals", `"2026-01-01T00:00:00Z"`, true},
		{`["a","B"]`, "equals", `"b"`, true},
		{`["a","B"]`, "equals", `"c"`, false},
		{`[1,2]`, "equals", `"2"`, true},
		{`null`, "equals", `"x"`, false},
		{`{"a":1}`, "equals", `"x"`, false},
		{`-`, "equals", `"x"`, false},
		// not_equals
		{`"Open"`, "not_equals", `"open"`, false},
		{`"Open"`, "not_equals", `"closed"`, true},
		{`1`, "not_equals", `"1"`, false},
		{`["a","b"]`, "not_equals", `"a"`, false},
		{`["a","b"]`, "not_equals", `"c"`, true},
		{`null`, "not_equals", `"x"`, true},
		{`-`, "not_equals", `"x"`, true},
		// contains
		{`"Order #4711 DAMAGED"`, "contains", `"damaged"`, true},
		{`"Order"`, "contains", `"refund"`, false},
		{`12345`, "contains", `"234"`, true},
		{`12345`, "contains", `234`, true},
		{`["VIP","emea"]`, "contains", `"vip"`, true},
		{`["VIP","emea"]`, "contains", `"vi"`, false}, // on an array: element equality
		{`[1, 2]`, "contains", `"1"`, true},
		{`-`, "contains", `"x"`, false},
		{`{"a":"x"}`, "contains", `"x"`, false},
		// not_contains
		{`"Order"`, "not_contains", `"RD"`, false},
		{`"Order"`, "not_contains", `"refund"`, true},
		{`["vip"]`, "not_contains", `"VIP"`, false},
		{`["vip"]`, "not_contains", `"vi"`, true},
		{`[]`, "not_contains", `"x"`, true},
		{`-`, "not_contains", `"x"`, true},
		// starts_with / ends_with
		{`"Re: Hello"`, "starts_with", `"re:"`, true},
		{`"Re: Hello"`, "starts_with", `"hello"`, false},
		{`"Re: Hello"`, "ends_with", `"HELLO"`, true},
		{`"Re: Hello"`, "ends_with", `"re"`, false},
		{`4711`, "starts_with", `"47"`, true},
		{`["ab","cd"]`, "ends_with", `"d"`, true},
		{`-`, "starts_with", `""`, false},
		// in / not_in
		{`"Gold"`, "in", `["silver","gold"]`, true},
		{`"Bronze"`, "in", `["silver","gold"]`, false},
		{`2`, "in", `["1","2"]`, true},
		{`"2"`, "in", `[1,2]`, true},
		{`["x","Gold"]`, "in", `["gold"]`, true},
		{`["x","y"]`, "in", `["gold"]`, false},
		{`true`, "in", `[true]`, true},
		{`-`, "in", `["gold"]`, false},
		{`"Gold"`, "not_in", `["silver","gold"]`, false},
		{`"Bronze"`, "not_in", `["silver","gold"]`, true},
		{`["x","Gold"]`, "not_in", `["gold"]`, false},
		{`-`, "not_in", `["gold"]`, true},
		// exists / not_exists
		{`"x"`, "exists", ``, true},
		{`""`, "exists", ``, true},
		{`0`, "exists", ``, true},
		{`false`, "exists", ``, true},
		{`[]`, "exists", ``, true},
		{`{}`, "exists", ``, true},
		{`null`, "exists", ``, false},
		{`-`, "exists", ``, false},
		{`"x"`, "not_exists", ``, false},
		{`null`, "not_exists", ``, true},
		{`-`, "not_exists", ``, true},
		// gt / gte / lt / lte on numbers and numeric strings
		{`10`, "gt", `9`, true},
		{`10`, "gt", `10`, false},
		{`10`, "gte", `10`, true},
		{`"10"`, "gt", `9.5`, true},
		{`10`, "gt", `"9.5"`, true},
		{`" 10 "`, "lt", `11`, true},
		{`-1e3`, "lt", `0`, true},
		{`10`, "lte", `9`, false},
		{`"ten"`, "gt", `1`, false},
		{`true`, "gt", `0`, false},
		{`[1, 20]`, "gt", `10`, true},
		{`[1, 2]`, "gt", `10`, false},
		{`-`, "gt", `0`, false},
		{`null`, "lt", `0`, false},
		// ... and on RFC 3339 instants, whatever their offsets
		{`"2026-11-22T10:30:00Z"`, "gt", `"2026-11-22T11:00:00+02:00"`, true},
		{`"2026-11-22T10:30:00Z"`, "lt", `"2026-11-22T10:30:00.001Z"`, true},
		{`"2026-11-22T10:30:00.5Z"`, "gte", `"2026-11-22T10:30:00.500Z"`, true},
		{`"2026-11-22T10:30:00Z"`, "lte", `"2026-11-22T09:00:00Z"`, false},
		{`"2026-11-22"`, "gt", `"2026-01-01T00:00:00Z"`, false},
		{`"2026-11-22T10:30:00Z"`, "gt", `5`, false}, // a time and a number do not compare
		// matches: RE2, case-insensitive
		{`"Invoice INV-2044"`, "matches", `"inv-\\d+"`, true},
		{`"Invoice"`, "matches", `"^voice"`, false},
		{`["a1","b2"]`, "matches", `"^B\\d$"`, true},
		{`4711`, "matches", `"^47"`, true},
		{`-`, "matches", `".*"`, false},
		// domain: exactly that domain
		{`"Ann@Acme.COM"`, "domain", `"acme.com"`, true},
		{`"ann@mail.acme.com"`, "domain", `"acme.com"`, false},
		{`"ann@acme.com.evil.io"`, "domain", `"acme.com"`, false},
		{`"Ann Lee <ann@acme.com>"`, "domain", `"acme.com"`, true},
		{`"acme.com"`, "domain", `"ACME.com"`, true},
		{`["x@other.org","y@acme.com"]`, "domain", `"acme.com"`, true},
		{`-`, "domain", `"acme.com"`, false},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s %s %s", tt.field, tt.op, tt.value)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cond := fmt.Sprintf(`{"field":"custom.f","operator":%q`, tt.op)
			if tt.value != "" {
				cond += `,"value":` + tt.value
			}
			cond += "}"
			payload := `{"custom":{"other":1}}`
			if tt.field != "-" {
				payload = `{"custom":{"f":` + tt.field + `}}`
			}
			p := mustCompile(t, CompileOptions{}, testRule(1, "["+cond+"]"))
			plan := evaluate(t, p, incoming(payload))
			if got := plan.Runs[0].Matched; got != tt.want {
				t.Errorf("matched = %v, want %v (failure %+v)", got, tt.want, plan.Runs[0].Failure)
			}
			// The dry-run goes through the same code and must agree.
			res, err := DryRun(p.Rule(1), incoming(payload), CompileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Matched != tt.want || len(res.Trace) != 1 || res.Trace[0].Result != tt.want {
				t.Errorf("dry-run = %+v, want matched %v", res, tt.want)
			}
		})
	}
}

func TestEventFields(t *testing.T) {
	t.Parallel()
	conds := `[{"field":"event.type","operator":"equals","value":"MESSAGES.INCOMING"},
		{"field":"event.source","operator":"equals","value":"api"},
		{"field":"event.channel_source","operator":"in","value":["email","chat"]},
		{"field":"event.occurred_at","operator":"lt","value":"2026-11-23T10:00:00+00:00"},
		{"field":"event.occurred_at","operator":"gt","value":"2026-11-23T09:58:59.999Z"}]`
	p := mustCompile(t, CompileOptions{}, testRule(1, conds))
	plan := evaluate(t, p, incoming(`{"event":{"type":"ignored"}}`))
	if !plan.Runs[0].Matched {
		t.Fatalf("not matched: %+v", plan.Runs[0].Failure)
	}
	in := incoming(`{}`)
	in.ChannelSource = ""
	plan = evaluate(t, p, in)
	if f := plan.Runs[0].Failure; f.Path != "conditions[2]" || f.Actual != nil {
		t.Errorf("failure = %+v, want conditions[2] with a null actual", f)
	}
}

func TestGroups(t *testing.T) {
	t.Parallel()
	payload := `{"conversation":{"status":"open","tags":["vip"]},"contact":{"email":"a@acme.com"}}`
	tests := []struct {
		conds string
		want  bool
		fail  string // the failure's path when not matched
	}{
		{`[]`, true, ""},
		{`[{"any":[{"field":"conversation.status","operator":"equals","value":"closed"},{"field":"conversation.tags","operator":"contains","value":"vip"}]}]`, true, ""},
		{`[{"any":[{"field":"conversation.status","operator":"equals","value":"closed"},{"field":"conversation.tags","operator":"contains","value":"x"}]}]`, false, "conditions[0]"},
		{`[{"all":[{"field":"conversation.status","operator":"equals","value":"open"},{"field":"contact.email","operator":"domain","value":"other.org"}]}]`, false, "conditions[0].all[1]"},
		{`[{"not":{"field":"conversation.status","operator":"equals","value":"open"}}]`, false, "conditions[0]"},
		{`[{"not":{"not":{"field":"conversation.status","operator":"equals","value":"open"}}}]`, true, ""},
		{`[{"field":"contact.email","operator":"exists"},{"all":[{"all":[{"field":"conversation.tags","operator":"not_contains","value":"vip"}]}]}]`, false, "conditions[1].all[0].all[0]"},
		{`[{"not":{"any":[{"field":"conversation.status","operator":"equals","value":"closed"}]}}]`, true, ""},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			p := mustCompile(t, CompileOptions{}, testRule(1, tt.conds))
			run := evaluate(t, p, incoming(payload)).Runs[0]
			if run.Matched != tt.want || run.Failure.Path != tt.fail {
				t.Errorf("matched %v failing %q, want %v %q", run.Matched, run.Failure.Path, tt.want, tt.fail)
			}
		})
	}
}

func TestTypedConditions(t *testing.T) {
	t.Parallel()
	payload := `{"message":{"from_email":"Customer@Acme.com","subject":"URGENT: site down",
		"body":"<p>Production is <b>off</b>line&nbsp;since&#32;noon</p><script>var x = 'hidden';</script>"},
		"contact":{"email":"vip@acme.com"}}`
	tests := []struct {
		cond  string
		lists []int64
		want  bool
	}{
		{`{"type":"from_email","value":"customer@acme.com"}`, nil, true},
		{`{"type":"from_email","operator":"equals","value":"other@acme.com"}`, nil, false},
		{`{"type":"from_email","operator":"domain","value":"ACME.com"}`, nil, true},
		{`{"type":"from_email","operator":"domain","value":"cme.com"}`, nil, false},
		{`{"type":"subject_contains","value":"urgent"}`, nil, true},
		{`{"type":"subject_contains","value":"later"}`, nil, false},
		{`{"type":"body_contains","value":"offline since noon"}`, nil, true},
		{`{"type":"body_contains","value":"PRODUCTION   is"}`, nil, true},
		{`{"type":"body_contains","value":"hidden"}`, nil, false},
		{`{"type":"body_contains","value":"<b>"}`, nil, false},
		{`{"type":"contact_list","operator":"in","list_id":7}`, []int64{3, 7}, true},
		{`{"type":"contact_list","operator":"in","list_id":7}`, []int64{3}, false},
		{`{"type":"contact_list","operator":"not_in","list_id":7}`, []int64{3}, true},
		{`{"type":"contact_list","operator":"not_in","list_id":7}`, []int64{7}, false},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			t.Parallel()
			p := mustCompile(t, CompileOptions{}, testRule(1, "["+tt.cond+"]"))
			in := incoming(payload)
			in.ContactLists = tt.lists
			if got := evaluate(t, p, in).Runs[0].Matched; got != tt.want {
				t.Errorf("matched = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("contact_list without a sender", func(t *testing.T) {
		t.Parallel()
		p := mustCompile(t, CompileOptions{},
			testRule(1, `[{"type":"contact_list","operator":"in","list_id":7}]`),
			testRule(2, `[{"type":"contact_list","operator":"not_in","list_id":7}]`))
		in := incoming(`{"contact":{"email":""}}`)
		in.ContactLists = []int64{7} // stale: there is no sender to be in it
		if got := matchedIDs(evaluate(t, p, in)); len(got) != 1 || got[0] != 2 {
			t.Errorf("matched %v, want [2]", got)
		}
	})
	t.Run("SenderEmail", func(t *testing.T) {
		t.Parallel()
		for payload, want := range map[string]string{
			`{"contact":{"email":"A@x.io"},"message":{"from_email":"b@y.io"}}`: "A@x.io",
			`{"contact":{"email":""},"message":{"from_email":"b\u0040y.io"}}`:  "b@y.io",
			`{"contact":{"email":null},"message":{}}`:                          "",
			`{`: "",
		} {
			if got := SenderEmail([]byte(payload)); got != want {
				t.Errorf("SenderEmail(%s) = %q, want %q", payload, got, want)
			}
		}
	})
	t.Run("contact_list sender falls back to from_email", func(t *testing.T) {
		t.Parallel()
		p := mustCompile(t, CompileOptions{}, testRule(1, `[{"type":"contact_list","operator":"in","list_id":7}]`))
		in := incoming(`{"message":{"from_email":"a@b.co"}}`)
		in.ContactLists = []int64{7}
		run := evaluate(t, p, in).Runs[0]
		if !run.Matched {
			t.Error("not matched")
		}
		in.ContactLists = nil
		run = evaluate(t, p, in).Runs[0]
		if string(run.Failure.Actual) != `"a@b.co"` {
			t.Errorf("actual = %s, want the sender", run.Failure.Actual)
		}
	})
}

// TestSharedLeaves checks that leaves shared between rules (memo) and
// decided through an equality index agree with leaves computed alone.
func TestSharedLeaves(t *testing.T) {
	t.Parallel()
	var rs []string
	values := []string{`"vip"`, `"VIP"`, `"gold"`, `1`, `"1"`, `true`, `"x"`}
	ops := []string{"equals", "not_equals", "contains", "not_contains", "in", "not_in"}
	for _, op := range ops {
		for _, v := range values {
			if strings.HasSuffix(op, "in") {
				v = "[" + v + `,"zzz"]`
			}
			rs = append(rs, fmt.Sprintf(`[{"field":"custom.f","operator":%q,"value":%s}]`, op, v))
		}
	}
	fields := []string{`"VIP"`, `["vip","x"]`, `["gold"]`, `1`, `"1"`, `[1,true]`, `true`, `null`, `{}`, `"a vip b"`, `[]`}
	for _, f := range fields {
		payload := `{"custom":{"f":` + f + `}}`
		var alone []int64
		ruleList := make([]rules.Rule, 0, len(rs))
		for i, c := range rs {
			ruleList = append(ruleList, testRule(int64(i+1), c))
		}
		together := mustCompile(t, CompileOptions{}, ruleList...)
		all := matchedIDs(evaluate(t, together, incoming(payload)))
		for i := range ruleList {
			single := mustCompile(t, CompileOptions{}, ruleList[i])
			if evaluate(t, single, incoming(payload)).Runs[0].Matched {
				alone = append(alone, ruleList[i].ID)
			}
		}
		if fmt.Sprint(all) != fmt.Sprint(alone) {
			t.Errorf("field %s: together %v, alone %v", f, all, alone)
		}
	}
}
