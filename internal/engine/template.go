package engine

import (
	"strings"
)

// template is an action text with Mustache variables (§5), parsed once at
// compile time. Only variables are supported — {{name}}, {{{name}}} and
// {{& name}}, all unescaped, since deliveries are not HTML. A variable is
// resolved from the event payload by its dotted path; one the payload
// does not have, and any other Mustache tag (sections, partials,
// comments), is left in the text literally. That is the contract's rule
// for unknown variables, and it keeps a template that was meant for
// another system visibly unrendered rather than silently blank.
//
// It is hand-written rather than github.com/cbroglie/mustache because that
// library renders unknown variables as "" (or fails in strict mode) and
// HTML-escapes {{name}} by default; both would need wrapping, and a
// variable-only renderer is a few dozen lines.
type template struct {
	segs []tseg
}

type tseg struct {
	text string   // literal text, or the whole tag to print when unresolved
	path []string // the variable's path; nil for literal text
}

func parseTemplate(s string) *template {
	t := &template{}
	for s != "" {
		open := strings.Index(s, "{{")
		if open < 0 {
			t.lit(s)
			break
		}
		t.lit(s[:open])
		rest := s[open:]
		closer := "}}"
		inner := rest[2:]
		if strings.HasPrefix(rest, "{{{") {
			closer, inner = "}}}", rest[3:]
		}
		end := strings.Index(inner, closer)
		if end < 0 {
			t.lit(rest)
			break
		}
		whole := rest[:len(rest)-len(inner)+end+len(closer)]
		name := strings.TrimSpace(inner[:end])
		if closer == "}}" && strings.HasPrefix(name, "&") {
			name = strings.TrimSpace(name[1:])
		}
		if path, ok := variablePath(name); ok {
			t.segs = append(t.segs, tseg{text: whole, path: path})
		} else {
			t.lit(whole)
		}
		s = rest[len(whole):]
	}
	return t
}

func (t *template) lit(s string) {
	if s == "" {
		return
	}
	if n := len(t.segs); n > 0 && t.segs[n-1].path == nil {
		t.segs[n-1].text += s
		return
	}
	t.segs = append(t.segs, tseg{text: s})
}

// variablePath splits a variable name into its path; false for anything
// that is not a plain dotted name (a section, comment, partial, ...).
func variablePath(name string) ([]string, bool) {
	if name == "" {
		return nil, false
	}
	path := strings.Split(name, ".")
	for _, seg := range path {
		if seg == "" {
			return nil, false
		}
		for _, r := range seg {
			if r == '{' || r == '}' || r == ' ' || r == '\t' || r == '\n' || strings.ContainsRune("#^/!>=&", r) {
				return nil, false
			}
		}
	}
	return path, true
}

// render renders t against the document.
func (t *template) render(d *document, scratch *[]byte) string {
	if len(t.segs) == 1 && t.segs[0].path == nil {
		return t.segs[0].text
	}
	var b []byte
	for _, seg := range t.segs {
		if seg.path == nil {
			b = append(b, seg.text...)
			continue
		}
		i := d.lookup(seg.path, scratch)
		if i < 0 {
			b = append(b, seg.text...)
			continue
		}
		switch d.nodes[i].kind {
		case jString:
			b = d.appendString(b, i)
		case jNull: // known but empty
		default: // numbers and booleans as written; objects and arrays as JSON
			b = append(b, d.raw(i)...)
		}
	}
	return string(b)
}

// RenderTemplate renders an action template (§5) against an event
// payload, exactly as planned actions are rendered. A payload that is not
// valid JSON leaves every variable unrendered.
func RenderTemplate(tmpl string, payload []byte) string {
	var d document
	_ = d.parse(payload)
	var scratch []byte
	return parseTemplate(tmpl).render(&d, &scratch)
}
