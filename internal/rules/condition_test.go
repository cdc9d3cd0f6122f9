package rules

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseConditionsInvalid(t *testing.T) {
	t.Parallel()
	deep := `{"field":"contact.email","operator":"exists"}`
	for i := 0; i < 6; i++ {
		deep = `{"all":[` + deep + `]}`
	}
	var many []string
	for i := 0; i < 51; i++ {
		many = append(many, `{"field":"contact.email","operator":"exists"}`)
	}
	long := strings.Repeat("a", MaxRegexLen+1)

	tests := []struct {
		name    string
		trigger string // default messages.incoming
		raw     string
		field   string
		msg     string
	}{
		{"not a list", "", `{"field":"contact.email"}`, "", "must be a list"},
		{"a string", "", `"x"`, "", "must be a list"},
		{"entry not an object", "", `[1]`, "[0]", "must be a condition object"},
		{"entry a list", "", `[[]]`, "[0]", "must be a condition object"},
		{"entry null", "", `[null]`, "[0]", "must be a condition object"},
		{"empty entry", "", `[{}]`, "[0]", "must be a leaf"},
		{"only unknown keys", "", `[{"foo":1}]`, "[0]", "must be a leaf"},
		{"leaf and group", "", `[{"field":"contact.email","any":[]}]`, "[0]", "mixes leaf keys"},
		{"leaf and typed", "", `[{"type":"from_email","field":"x"}]`, "[0]", "mixes leaf keys"},
		{"group and typed", "", `[{"type":"from_email","not":{}}]`, "[0]", "mixes group keys"},
		{"two group keys", "", `[{"any":[],"all":[]}]`, "[0]", "exactly one of any, all, not"},
		{"unknown key in leaf", "", `[{"field":"contact.email","operator":"exists","extra":1}]`, "[0].extra", `unknown key "extra"`},
		{"unknown key in group", "", `[{"any":[{"field":"contact.email","operator":"exists"}],"x":1}]`, "[0].x", `unknown key "x"`},
		{"unknown key in typed", "", `[{"type":"subject_contains","value":"a","list_id":1}]`, "[0].list_id", `unknown key "list_id"`},
		{"field missing", "", `[{"operator":"exists"}]`, "[0].field", "is required"},
		{"field null", "", `[{"field":null,"operator":"exists"}]`, "[0].field", "is required"},
		{"field empty", "", `[{"field":"","operator":"exists"}]`, "[0].field", "must not be empty"},
		{"field not a string", "", `[{"field":3,"operator":"exists"}]`, "[0].field", "must be a string"},
		{"unknown root", "", `[{"field":"customer.email","operator":"exists"}]`, "[0].field", `unknown field "customer.email"`},
		{"root only", "", `[{"field":"contact","operator":"exists"}]`, "[0].field", "must name a field inside contact"},
		{"empty segment", "", `[{"field":"contact..email","operator":"exists"}]`, "[0].field", "empty path segment"},
		{"field too long", "", `[{"field":"custom.` + strings.Repeat("x", MaxFieldLen) + `","operator":"exists"}]`, "[0].field", "at most 200"},
		{"message on status trigger", "status.closed", `[{"field":"message.subject","operator":"exists"}]`, "[0].field", "message.* is not available for trigger status.closed"},
		{"message on time trigger", "time.unanswered_by_team", `[{"field":"message.subject","operator":"exists"}]`, "[0].field", "message.* is not available"},
		{"ticket on message trigger", "", `[{"field":"ticket.id","operator":"exists"}]`, "[0].field", "ticket.* is not available for trigger messages.incoming"},
		{"unknown event field", "", `[{"field":"event.id","operator":"exists"}]`, "[0].field", `unknown event field "event.id"`},
		{"event subfield", "", `[{"field":"event.type.x","operator":"exists"}]`, "[0].field", "unknown event field"},
		{"operator missing", "", `[{"field":"contact.email","value":"a"}]`, "[0].operator", "is required"},
		{"unknown operator", "", `[{"field":"contact.email","operator":"eq","value":"a"}]`, "[0].operator", `unknown operator "eq"`},
		{"operator wrong case", "", `[{"field":"contact.email","operator":"EQUALS","value":"a"}]`, "[0].operator", `unknown operator "EQUALS"`},
		{"value missing", "", `[{"field":"contact.email","operator":"equals"}]`, "[0].value", "is required for equals"},
		{"value null", "", `[{"field":"contact.email","operator":"contains","value":null}]`, "[0].value", "is required for contains"},
		{"value for exists", "", `[{"field":"contact.email","operator":"exists","value":"x"}]`, "[0].value", "must be absent for exists"},
		{"value for not_exists", "", `[{"field":"contact.email","operator":"not_exists","value":false}]`, "[0].value", "must be absent for not_exists"},
		{"object value", "", `[{"field":"contact.email","operator":"equals","value":{}}]`, "[0].value", "must be a string, number or boolean"},
		{"list value for equals", "", `[{"field":"contact.email","operator":"equals","value":["a"]}]`, "[0].value", "must be a string, number or boolean"},
		{"infinite number", "", `[{"field":"custom.n","operator":"equals","value":1e999}]`, "[0].value", "finite number"},
		{"string too long", "", `[{"field":"custom.n","operator":"equals","value":"` + strings.Repeat("x", MaxConditionValueLen+1) + `"}]`, "[0].value", "at most 2000"},
		{"in without value", "", `[{"field":"custom.n","operator":"in"}]`, "[0].value", "non-empty list"},
		{"in scalar", "", `[{"field":"custom.n","operator":"in","value":"a"}]`, "[0].value", "non-empty list"},
		{"in empty list", "", `[{"field":"custom.n","operator":"not_in","value":[]}]`, "[0].value", "non-empty list"},
		{"in non-scalar entry", "", `[{"field":"custom.n","operator":"in","value":["a",{"b":1}]}]`, "[0].value[1]", "must be a string, number or boolean"},
		{"in null entry", "", `[{"field":"custom.n","operator":"in","value":[null]}]`, "[0].value[0]", "must be a string, number or boolean"},
		{"in too long", "", `[{"field":"custom.n","operator":"in","value":[` + strings.TrimSuffix(strings.Repeat("1,", MaxConditionListLen+1), ",") + `]}]`, "[0].value", "at most 1000"},
		{"gt on text", "", `[{"field":"custom.n","operator":"gt","value":"abc"}]`, "[0].value", "number, a numeric string or an RFC 3339 time"},
		{"lte on bool", "", `[{"field":"custom.n","operator":"lte","value":true}]`, "[0].value", "number, a numeric string or an RFC 3339 time"},
		{"gte on date only", "", `[{"field":"custom.n","operator":"gte","value":"2026-01-02"}]`, "[0].value", "RFC 3339"},
		{"gt on hex", "", `[{"field":"custom.n","operator":"gt","value":"0x10"}]`, "[0].value", "RFC 3339"},
		{"matches number", "", `[{"field":"custom.n","operator":"matches","value":5}]`, "[0].value", "regular expression"},
		{"matches bad regex", "", `[{"field":"custom.n","operator":"matches","value":"a("}]`, "[0].value", "not a valid RE2"},
		{"matches backreference", "", `[{"field":"custom.n","operator":"matches","value":"(a)\\1"}]`, "[0].value", "not a valid RE2"},
		{"matches too long", "", `[{"field":"custom.n","operator":"matches","value":"` + long + `"}]`, "[0].value", "at most 512"},
		{"domain not a domain", "", `[{"field":"contact.email","operator":"domain","value":"not a domain"}]`, "[0].value", "must be a domain"},
		{"domain with at", "", `[{"field":"contact.email","operator":"domain","value":"@acme.com"}]`, "[0].value", "must be a domain"},
		{"domain single label", "", `[{"field":"contact.email","operator":"domain","value":"acme"}]`, "[0].value", "must be a domain"},
		{"domain number", "", `[{"field":"contact.email","operator":"domain","value":3}]`, "[0].value", "must be a domain"},
		{"any not a list", "", `[{"any":{"field":"contact.email","operator":"exists"}}]`, "[0].any", "non-empty list"},
		{"any empty", "", `[{"any":[]}]`, "[0].any", "non-empty list"},
		{"all empty", "", `[{"all":[]}]`, "[0].all", "non-empty list"},
		{"not a list", "", `[{"not":[]}]`, "[0].not", "must be a condition object"},
		{"not null", "", `[{"not":null}]`, "[0].not", "must be a condition object"},
		{"nested leaf error", "", `[{"field":"contact.email","operator":"exists"},{"any":[{"field":"contact.email","operator":"equals"}]}]`, "[1].any[0].value", "is required for equals"},
		{"error under not", "", `[{},{},{"not":{"field":"nope.x","operator":"exists"}}]`, "[2].not.field", "unknown field"},
		{"too deep", "", `[` + deep + `]`, "[0].all[0].all[0].all[0].all[0].all[0].all", "at most 5 deep"},
		{"too many leaves", "", `[` + strings.Join(many, ",") + `]`, "", "at most 50 conditions"},
		{"typed type not a string", "", `[{"type":7}]`, "[0].type", "must be a string"},
		{"typed unknown type", "", `[{"type":"to_email","value":"a"}]`, "[0].type", `unknown condition type "to_email"`},
		{"from_email value missing", "", `[{"type":"from_email"}]`, "[0].value", "is required"},
		{"from_email value number", "", `[{"type":"from_email","value":5}]`, "[0].value", "must be a string"},
		{"from_email bad operator", "", `[{"type":"from_email","operator":"contains","value":"a@b.c"}]`, "[0].operator", `operator "contains" is not allowed here: equals or domain`},
		{"from_email unknown operator", "", `[{"type":"from_email","operator":"eq","value":"a@b.c"}]`, "[0].operator", `unknown operator "eq"`},
		{"from_email domain not a domain", "", `[{"type":"from_email","operator":"domain","value":"acme"}]`, "[0].value", "must be a domain"},
		{"from_email on status trigger", "status.opened", `[{"type":"from_email","value":"a@b.c"}]`, "[0].type", "from_email is not available for trigger status.opened"},
		{"subject_contains empty", "", `[{"type":"subject_contains","value":""}]`, "[0].value", "must not be empty"},
		{"subject_contains missing", "", `[{"type":"subject_contains"}]`, "[0].value", "is required"},
		{"subject_contains on closed", "status.closed", `[{"type":"subject_contains","value":"x"}]`, "[0].type", "subject_contains is not available for trigger status.closed"},
		{"body_contains on custom", "custom.thing", `[{"type":"body_contains","value":"x"}]`, "[0].type", "body_contains is not available"},
		{"body_contains bad operator", "", `[{"type":"body_contains","operator":"equals","value":"x"}]`, "[0].operator", "not allowed here"},
		{"contact_list no operator", "", `[{"type":"contact_list","list_id":1}]`, "[0].operator", "is required: in or not_in"},
		{"contact_list bad operator", "", `[{"type":"contact_list","operator":"equals","list_id":1}]`, "[0].operator", "not allowed here: in or not_in"},
		{"contact_list no list", "", `[{"type":"contact_list","operator":"in"}]`, "[0].list_id", "is required"},
		{"contact_list zero", "", `[{"type":"contact_list","operator":"in","list_id":0}]`, "[0].list_id", "positive integer"},
		{"contact_list string", "", `[{"type":"contact_list","operator":"in","list_id":"7"}]`, "[0].list_id", "positive integer"},
		{"contact_list fraction", "", `[{"type":"contact_list","operator":"in","list_id":7.5}]`, "[0].list_id", "positive integer"},
		{"contact_list value", "", `[{"type":"contact_list","operator":"in","list_id":7,"value":"x"}]`, "[0].value", "unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			trigger := tt.trigger
			if trigger == "" {
				trigger = TriggerIncoming
			}
			conds, errs := ParseConditions(json.RawMessage(tt.raw), trigger)
			if conds != nil {
				t.Errorf("conditions = %v, want nil on error", conds)
			}
			for _, e := range errs {
				if e.Field == tt.field && strings.Contains(e.Message, tt.msg) {
					return
				}
			}
			t.Errorf("errors = %v, want field %q with %q", errs, tt.field, tt.msg)
		})
	}
}

func TestParseConditionsPrefixedByRule(t *testing.T) {
	t.Parallel()
	r := Rule{
		Name: "x", TriggerType: TriggerIncoming,
		Conditions: json.RawMessage(`[{"field":"conversation.status","operator":"eq","value":"open"}]`),
	}
	for _, e := range r.Validate() {
		if e.Field == "conditions[0].operator" && e.Message == `unknown operator "eq"` {
			return
		}
	}
	t.Errorf("Validate() = %v, want conditions[0].operator: unknown operator \"eq\"", r.Validate())
}

func TestParseConditionsValid(t *testing.T) {
	t.Parallel()
	var fifty []string
	for i := 0; i < 50; i++ {
		fifty = append(fifty, `{"field":"contact.email","operator":"exists"}`)
	}
	deep := `{"field":"contact.email","operator":"exists"}`
	for i := 0; i < 5; i++ {
		deep = `{"not":` + deep + `}`
	}
	tests := []struct {
		name    string
		trigger string
		raw     string
		want    []Condition // Raw is ignored
	}{
		{"nil", "", ``, nil},
		{"null", "", ` null `, nil},
		{"empty list", "", `[]`, []Condition{}},
		{"equals string", "", `[{"field":"conversation.status","operator":"equals","value":"OPENED"}]`,
			[]Condition{{Kind: KindLeaf, Field: "conversation.status", Operator: OpEquals, Value: "OPENED"}}},
		{"number kept exact", "", `[{"field":"custom.n","operator":"gt","value":12345678901234567890}]`,
			[]Condition{{Kind: KindLeaf, Field: "custom.n", Operator: OpGt, Value: json.Number("12345678901234567890")}}},
		{"numeric string gt", "", `[{"field":"custom.n","operator":"gte","value":" 1.5e3 "}]`,
			[]Condition{{Kind: KindLeaf, Field: "custom.n", Operator: OpGte, Value: " 1.5e3 "}}},
		{"time lt", "", `[{"field":"event.occurred_at","operator":"lt","value":"2026-11-22T10:30:00+02:00"}]`,
			[]Condition{{Kind: KindLeaf, Field: "event.occurred_at", Operator: OpLt, Value: "2026-11-22T10:30:00+02:00"}}},
		{"bool", "", `[{"field":"custom.vip","operator":"not_equals","value":true}]`,
			[]Condition{{Kind: KindLeaf, Field: "custom.vip", Operator: OpNotEquals, Value: true}}},
		{"exists with null value", "", `[{"field":"contact.email","operator":"exists","value":null}]`,
			[]Condition{{Kind: KindLeaf, Field: "contact.email", Operator: OpExists}}},
		{"in list", "", `[{"field":"conversation.tags","operator":"in","value":["a",1,false]}]`,
			[]Condition{{Kind: KindLeaf, Field: "conversation.tags", Operator: OpIn, Value: []any{"a", json.Number("1"), false}}}},
		{"matches", "", `[{"field":"message.subject","operator":"matches","value":"^re:\\s"}]`,
			[]Condition{{Kind: KindLeaf, Field: "message.subject", Operator: OpMatches, Value: `^re:\s`}}},
		{"domain", "", `[{"field":"contact.email","operator":"domain","value":"Acme.COM"}]`,
			[]Condition{{Kind: KindLeaf, Field: "contact.email", Operator: OpDomain, Value: "Acme.COM"}}},
		{"event fields", "status.closed", `[{"field":"event.source","operator":"equals","value":"api"},{"field":"event.channel_source","operator":"exists"}]`,
			[]Condition{{Kind: KindLeaf, Field: "event.source", Operator: OpEquals, Value: "api"}, {Kind: KindLeaf, Field: "event.channel_source", Operator: OpExists}}},
		{"ticket on ticket trigger", TriggerTicketDone, `[{"field":"ticket.priority","operator":"equals","value":"high"}]`,
			[]Condition{{Kind: KindLeaf, Field: "ticket.priority", Operator: OpEquals, Value: "high"}}},
		{"groups", "", `[{"any":[{"field":"contact.email","operator":"exists"},{"not":{"all":[{"field":"custom.a","operator":"equals","value":1}]}}]}]`,
			[]Condition{{Kind: KindAny, Children: []Condition{
				{Kind: KindLeaf, Field: "contact.email", Operator: OpExists},
				{Kind: KindNot, Children: []Condition{{Kind: KindAll, Children: []Condition{
					{Kind: KindLeaf, Field: "custom.a", Operator: OpEquals, Value: json.Number("1")},
				}}}},
			}}}},
		{"typed", TriggerConversationCreated, `[{"type":"from_email","value":"a@b.co"},{"type":"from_email","operator":"domain","value":"acme.com"},{"type":"subject_contains","value":"urgent"},{"type":"body_contains","operator":"contains","value":"down"},{"type":"contact_list","operator":"not_in","list_id":7}]`,
			[]Condition{
				{Kind: KindTyped, Type: TypeFromEmail, Operator: OpEquals, Value: "a@b.co"},
				{Kind: KindTyped, Type: TypeFromEmail, Operator: OpDomain, Value: "acme.com"},
				{Kind: KindTyped, Type: TypeSubjectContains, Operator: OpContains, Value: "urgent"},
				{Kind: KindTyped, Type: TypeBodyContains, Operator: OpContains, Value: "down"},
				{Kind: KindTyped, Type: TypeContactList, Operator: OpNotIn, ListID: 7},
			}},
		{"contact_list on any trigger", "status.closed", `[{"type":"contact_list","operator":"in","list_id":3}]`,
			[]Condition{{Kind: KindTyped, Type: TypeContactList, Operator: OpIn, ListID: 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			trigger := tt.trigger
			if trigger == "" {
				trigger = TriggerIncoming
			}
			got, errs := ParseConditions(json.RawMessage(tt.raw), trigger)
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if diff := cmp.Diff(tt.want, got, cmp.FilterPath(func(p cmp.Path) bool {
				return p.Last().String() == ".Raw"
			}, cmp.Ignore())); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("limits reached exactly", func(t *testing.T) {
		t.Parallel()
		for _, raw := range []string{`[` + strings.Join(fifty, ",") + `]`, `[` + deep + `]`} {
			if _, errs := ParseConditions(json.RawMessage(raw), TriggerIncoming); len(errs) > 0 {
				t.Errorf("errors: %v", errs)
			}
		}
	})
	t.Run("raw is the compact entry", func(t *testing.T) {
		t.Parallel()
		got, _ := ParseConditions(json.RawMessage(`[ { "any" : [ {"field": "contact.email", "operator":"exists"} ] } ]`), TriggerIncoming)
		if string(got[0].Raw) != `{"any":[{"field":"contact.email","operator":"exists"}]}` ||
			string(got[0].Children[0].Raw) != `{"field":"contact.email","operator":"exists"}` {
			t.Errorf("raw = %s / %s", got[0].Raw, got[0].Children[0].Raw)
		}
	})
}

func TestContactListIDs(t *testing.T) {
	t.Parallel()
	raw := `[{"type":"contact_list","operator":"in","list_id":4},{"any":[{"type":"contact_list","operator":"not_in","list_id":2},{"not":{"type":"contact_list","operator":"in","list_id":4}}]}]`
	conds, errs := ParseConditions(json.RawMessage(raw), "status.closed")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if diff := cmp.Diff([]int64{4, 2}, ContactListIDs(conds)); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	if got := ContactListIDs(nil); got != nil {
		t.Errorf("ContactListIDs(nil) = %v", got)
	}
}

func TestIsNumericAndIsDomain(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"1": true, "-1.5": true, "+2e10": true, " 3 ": true, ".5": true, "5.": true,
		"": false, "abc": false, "0x10": false, "Inf": false, "NaN": false, "1_000": false,
		"1e": false, "1e999": false, "-": false, ".": false,
	} {
		if got := IsNumeric(s); got != want {
			t.Errorf("IsNumeric(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{
		"acme.com": true, "mail.acme.co.uk": true, "xn--bcher-kva.example": true, "bücher.de": true, "acme.com.": true,
		"acme": false, "": false, "-a.com": false, "a-.com": false, "a..com": false, "a b.com": false, "a@b.com": false,
	} {
		if got := IsDomain(s); got != want {
			t.Errorf("IsDomain(%q) = %v", s, got)
		}
	}
}

func TestParseNumber(t *testing.T) { // not parallel: AllocsPerRun
	tests := []struct {
		in   string
		want Number
	}{
		{"42", Number{Float: 42, Int: 42, IsInt: true}},
		{"-7", Number{Float: -7, Int: -7, IsInt: true}},
		{" 3 ", Number{Float: 3, Int: 3, IsInt: true}},
		{"1.5", Number{Float: 1.5}},
		{"1e3", Number{Float: 1000}},
		{"12345678901234567890", Number{Float: 12345678901234567890}},
	}
	for _, tt := range tests {
		got, ok := ParseNumber(tt.in)
		if !ok || got != tt.want {
			t.Errorf("ParseNumber(%q) = %v, %v; want %v", tt.in, got, ok, tt.want)
		}
		if gb, okb := ParseNumber([]byte(tt.in)); gb != got || okb != ok {
			t.Errorf("ParseNumber([]byte(%q)) differs from the string form", tt.in)
		}
	}
	one, _ := ParseNumber("1")
	onePointZero, _ := ParseNumber("1.0")
	two, _ := ParseNumber("2")
	if one.Compare(onePointZero) != 0 || one.Compare(two) != -1 || two.Compare(onePointZero) != 1 {
		t.Error("Compare disagrees with arithmetic")
	}
	big1, _ := ParseNumber("900000000000000001")
	big2, _ := ParseNumber("900000000000000000")
	if big1.Compare(big2) != 1 {
		t.Error("large integers must compare exactly")
	}
	if n := testing.AllocsPerRun(100, func() { ParseNumber([]byte("123456.789e-3")) }); n != 0 {
		t.Errorf("ParseNumber allocates %v times", n)
	}
}

func TestParseInstantAgreesWithTimePackage(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"2026-11-22T10:30:00Z", "2026-11-22T10:30:00.123Z", "2026-11-22T10:30:00.123456789+02:00",
		"2026-11-22T10:30:00-05:30", "1969-12-31T23:59:59.5Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
		"2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-31T00:00:00Z",
		"2026-11-22T24:00:00Z", "2026-11-22T10:60:00Z", "2026-11-22T10:30:60Z", "2026-11-22 10:30:00Z",
		"2026-11-22t10:30:00Z", "2026-11-22T10:30:00z", "2026-11-22T10:30:00", "2026-11-22T10:30:00.Z",
		"2026-11-22T10:30:00+0200", "2026-11-22T10:30:00+24:00", "2026-11-22", "", "x026-11-22T10:30:00Z",
		"2026-11-22T10:30:00.1234567890Z",
	}
	for _, in := range inputs {
		sec, nsec, ok := ParseInstant(in)
		want, err := time.Parse(time.RFC3339Nano, in)
		if ok != (err == nil) {
			t.Errorf("ParseInstant(%q) ok = %v, time.Parse error = %v", in, ok, err)
			continue
		}
		if ok && (sec != want.Unix() || int(nsec) != want.Nanosecond()) {
			t.Errorf("ParseInstant(%q) = %d.%09d, want %d.%09d", in, sec, nsec, want.Unix(), want.Nanosecond())
		}
	}
}

// FuzzParseConditions checks that validation never panics, is
// deterministic, and either returns conditions or errors, never both.
func FuzzParseConditions(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, TriggerIncoming)
	}
	f.Add(`[{"type":"contact_list","operator":"in","list_id":1}]`, "status.closed")
	f.Add(`[{"field":"ticket.id","operator":"exists"}]`, TriggerTicketCreated)
	f.Fuzz(func(t *testing.T, raw, trigger string) {
		c1, e1 := ParseConditions(json.RawMessage(raw), trigger)
		c2, e2 := ParseConditions(json.RawMessage(raw), trigger)
		if len(e1) > 0 && c1 != nil {
			t.Fatalf("both conditions and errors: %v", e1)
		}
		if !cmp.Equal(e1, e2) || !cmp.Equal(c1, c2) {
			t.Fatalf("not deterministic:\n%v\n%v", e1, e2)
		}
		for _, e := range e1 {
			if e.Message == "" {
				t.Fatalf("empty message for %q", e.Field)
			}
		}
		if len(e1) == 0 {
			ContactListIDs(c1)
		}
	})
}

// fuzzSeeds returns the committed seed corpus's inputs as plain strings,
// so the same files serve as seeds and as documentation of the shapes.
func fuzzSeeds(f *testing.F) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "conditions", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files under testdata/conditions: %v", err)
	}
	var out []string
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func ExampleParseConditions() {
	_, errs := ParseConditions(json.RawMessage(`[{"field":"conversation.status","operator":"eq","value":"open"}]`), TriggerIncoming)
	for _, e := range errs {
		fmt.Printf("conditions%s: %s\n", e.Field, e.Message)
	}
	// Output: conditions[0].operator: unknown operator "eq"
}

// TestRulePatternBudget: the matches patterns of one rule total at most
// MaxRulePatternLen characters (docs/concepts.md#conditions "Bounded cost"), counted in
// characters wherever they sit in the tree; Validate names "conditions".
func TestRulePatternBudget(t *testing.T) {
	t.Parallel()
	// patterns returns n leaves of distinct patterns of size characters
	// (multi-byte, so bytes are not what is counted), the last in a group.
	patterns := func(n, size int) string {
		var leaves []string
		for i := range n {
			p := fmt.Sprintf("é%03d", i) + strings.Repeat("x", size-4)
			leaves = append(leaves, fmt.Sprintf(`{"field":"message.subject","operator":"matches","value":%q}`, p))
		}
		last := len(leaves) - 1
		leaves[last] = `{"any":[` + leaves[last] + `]}`
		return "[" + strings.Join(leaves, ",") + "]"
	}
	tests := []struct {
		name    string
		conds   string
		refused bool
	}{
		{"8 of 512: exactly the budget", patterns(8, 512), false},
		{"9 of 500", patterns(9, 500), true},
		{"8 of 512 and one more character", strings.Replace(patterns(8, 512), `[{`, `[{"field":"message.subject","operator":"matches","value":"a"},{`, 1), true},
		{"50 of 80", patterns(50, 80), false},
		{"50 of 82", patterns(50, 82), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := Rule{Name: "x", TriggerType: TriggerIncoming, Conditions: json.RawMessage(tt.conds),
				Actions: []Action{{Type: ActionAddNote, Body: ptrTo("n")}}, RolloutPercentage: 100}
			var found bool
			for _, e := range r.Validate() {
				if e.Field == "conditions" && strings.Contains(e.Message, "at most 4096 characters") {
					found = true
				} else {
					t.Errorf("unexpected error %s: %s", e.Field, e.Message)
				}
			}
			if found != tt.refused {
				t.Errorf("refused = %v, want %v (errors %v)", found, tt.refused, r.Validate())
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
