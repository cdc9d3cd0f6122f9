package engine

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRenderTemplate(t *testing.T) {
	t.Parallel()
	payload := `{"contact":{"name":"Ann & <Co>","tags":["a","b"],"age":42,"vip":true,"nick":null,"addr":{"city":"Lyon"}},
		"message":{"subject":"Re: \"hi\" \u00e9t\u00e9"},"list":[{"x":"first"}]}`
	tests := []struct{ tmpl, want string }{
		{"Hi {{contact.name}}", "Hi Ann & <Co>"},                   // no HTML escaping
		{"Hi {{{contact.name}}}", "Hi Ann & <Co>"},                 // triple mustache
		{"Hi {{& contact.name}}", "Hi Ann & <Co>"},                 // & form
		{"{{ contact.name }}!", "Ann & <Co>!"},                     // spaces inside
		{"{{message.subject}}", `Re: "hi" été`},                    // decoded escapes
		{"{{contact.age}} {{contact.vip}}", "42 true"},             // scalars as written
		{"[{{contact.nick}}]", "[]"},                               // null: known, empty
		{"{{contact.addr}}", `{"city":"Lyon"}`},                    // objects as JSON
		{"{{list.0.x}}", "first"},                                  // array index
		{"Hi {{contact.nickname}}", "Hi {{contact.nickname}}"},     // unknown: intact
		{"{{contact.name.first}}", "{{contact.name.first}}"},       // a path through a string
		{"{{#contact}}x{{/contact}}", "{{#contact}}x{{/contact}}"}, // sections are not supported: left as is
		{"{{! comment }}", "{{! comment }}"},
		{"{{}}", "{{}}"},
		{"{{contact..name}}", "{{contact..name}}"},
		{"open {{ and never closed", "open {{ and never closed"},
		{"{{contact.name}} and {{missing}} and {{contact.age}}", "Ann & <Co> and {{missing}} and 42"},
		{"no variables", "no variables"},
		{"", ""},
		{"{{{contact.name}}", "{{{contact.name}}"},
	}
	for _, tt := range tests {
		if got := RenderTemplate(tt.tmpl, []byte(payload)); got != tt.want {
			t.Errorf("RenderTemplate(%q) = %q, want %q", tt.tmpl, got, tt.want)
		}
	}
	if got := RenderTemplate("Hi {{contact.name}}", []byte(`{`)); got != "Hi {{contact.name}}" {
		t.Errorf("invalid payload: %q", got)
	}
}

func TestAppendText(t *testing.T) {
	t.Parallel()
	tests := []struct{ html, want string }{
		{"plain text", "plain text"},
		{"  lots \n\t of\r\n  space  ", "lots of space"},
		{"<p>Hello</p><p>world</p>", "Hello world"},
		{"ur<b>gent</b>", "urgent"},
		{"line<br>break<br/>again", "line break again"},
		{"a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&#39; &#x41;&#65;", `a & b <c> "d" 'e' AA`},
		{"caf&eacute; na&iuml;ve &hearts;", "café naïve ♥"},
		{"non&nbsp;breaking", "non breaking"},
		{"<script>alert('x')</script>shown<style>p{}</style> too", "shown too"},
		{"<SCRIPT type='text/javascript'>var a = '</b>';</SCRIPT>after", "after"},
		{"before<!-- a comment <p>x</p> -->after", "beforeafter"},
		{`<a href="x>y" title='>'>link</a>`, "link"},
		{"1 < 2 and 3 > 2", "1 < 2 and 3 > 2"},
		{"a <b unclosed", "a <b unclosed"},
		{"AT&T & co; &unknownentity; &#xZZ;", "AT&T & co; &unknownentity; &#xZZ;"},
		{"&#0; &#xD800; &#x110000;", "\uFFFD \uFFFD \uFFFD"},
		{"<ul><li>one</li><li>two</li></ul>", "one two"},
		{"<table><tr><td>a</td><td>b</td></tr></table>", "a b"},
		{"", ""},
		{"<p></p>", ""},
	}
	for _, tt := range tests {
		if got := string(appendText(nil, []byte(tt.html))); got != tt.want {
			t.Errorf("appendText(%q) = %q, want %q", tt.html, got, tt.want)
		}
	}
	if got := string(appendText([]byte("keep:"), []byte(" <p> x </p>"))); got != "keep:x" {
		t.Errorf("appendText must append: %q", got)
	}
}

func TestDocumentAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	inputs := []string{
		`{}`, `[]`, `null`, `true`, `0`, `-0.5e+10`, `"x"`, ` {"a" : [1, {"b": null}], "c": "\u00e9\ud83d\ude00\n"} `,
		`{"a":1,"a":2}`, `"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`, "\"bad \xff utf8\"", `"\/\b\f\r\t\\"`,
		`01`, `1.`, `.5`, `-`, `1e`, `+1`, `[1,]`, `{"a"}`, `{"a":1,}`, `{a:1}`, `"abc`, `"\x"`, `"\u12g4"`, "\"\x1f\"",
		`[1 2]`, `tru`, `nulll`, `{"a":1}}`, "", " ", `[[[[[]]]]]`,
	}
	for _, in := range inputs {
		var d document
		err := d.parse([]byte(in))
		if (err == nil) != json.Valid([]byte(in)) {
			t.Errorf("parse(%q) error %v, json.Valid %v", in, err, json.Valid([]byte(in)))
			continue
		}
		if err != nil {
			continue
		}
		var want any
		_ = json.Unmarshal([]byte(in), &want)
		if got := toAny(&d, 0); !jsonEqual(got, want) {
			t.Errorf("parse(%q) = %#v, want %#v", in, got, want)
		}
	}
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	var d document
	if d.parse([]byte(deep)) == nil {
		t.Error("nesting beyond maxDepth accepted")
	}
}

// toAny decodes node i as encoding/json would into an any.
func toAny(d *document, i int32) any {
	n := &d.nodes[i]
	switch n.kind {
	case jObject:
		m := map[string]any{}
		k := i + 1
		for c := int32(0); c < n.n; c++ {
			m[string(d.appendString(nil, k))] = toAny(d, k+1)
			k = d.nodes[k+1].next
		}
		return m
	case jArray:
		a := []any{}
		e := i + 1
		for c := int32(0); c < n.n; c++ {
			a = append(a, toAny(d, e))
			e = d.nodes[e].next
		}
		return a
	case jString:
		s := d.appendString(nil, i)
		if !utf8.Valid(s) {
			return "invalid utf8"
		}
		return string(s)
	case jNumber:
		var f float64
		_ = json.Unmarshal(d.raw(i), &f)
		return f
	case jTrue:
		return true
	case jFalse:
		return false
	}
	return nil
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
