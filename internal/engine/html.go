package engine

import (
	"bytes"
	"html"
	"unicode"
	"unicode/utf8"
)

// appendText appends the plain text of an HTML fragment to dst, for
// body_contains (§4): tags removed (script, style and comments with their
// content), entities decoded, whitespace folded to single spaces and
// trimmed. Block-level tags separate words ("<p>a</p><p>b</p>" is "a b")
// and inline ones do not ("ur<b>gent</b>" is "urgent"). Plain text passes
// through unchanged apart from folding: "<" only opens a tag when a letter,
// "/", "!" or "?" follows, as in an HTML tokenizer, and a "<" never closed
// is text.
//
// It is written here rather than taken from github.com/k3a/html2text
// because it appends into the event's reused buffer: html2text allocates
// a string per call and a builder per element (see BenchmarkHTMLText).
func appendText(dst, src []byte) []byte {
	w := textWriter{dst: dst, start: len(dst)}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '<' && i+1 < len(src) && opensTag(src[i+1]):
			i = w.tag(src, i)
		case c == '&':
			i = w.entity(src, i)
		case c < utf8.RuneSelf:
			w.rune(rune(c))
			i++
		default:
			r, size := utf8.DecodeRune(src[i:])
			w.rune(r)
			i += size
		}
	}
	return w.dst
}

// foldSpace appends s with whitespace runs folded to one space and
// trimmed, the same folding appendText applies.
func foldSpace(dst, s []byte) []byte {
	w := textWriter{dst: dst, start: len(dst)}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		w.rune(r)
		i += size
	}
	return w.dst
}

func opensTag(c byte) bool {
	return c == '/' || c == '!' || c == '?' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

type textWriter struct {
	dst   []byte
	start int
	space bool // a separator is pending
}

func (w *textWriter) rune(r rune) {
	if unicode.IsSpace(r) {
		w.space = true
		return
	}
	if w.space && len(w.dst) > w.start {
		w.dst = append(w.dst, ' ')
	}
	w.space = false
	w.dst = utf8.AppendRune(w.dst, r)
}

// tag skips the tag (or comment) at src[i] and returns the offset after it.
func (w *textWriter) tag(src []byte, i int) int {
	if bytes.HasPrefix(src[i:], []byte("<!--")) {
		end := bytes.Index(src[i+4:], []byte("-->"))
		if end < 0 {
			return len(src)
		}
		return i + 4 + end + 3
	}
	end := tagEnd(src, i+1)
	if end < 0 { // never closed: it was text after all
		w.rune('<')
		return i + 1
	}
	j := i + 1
	closing := j < len(src) && src[j] == '/'
	if closing {
		j++
	}
	nameStart := j
	for j < end && isNameByte(src[j]) {
		j++
	}
	name := src[nameStart:j]
	if blockTag(name) {
		w.space = true
	}
	raw := ""
	switch {
	case closing:
	case asciiEqualFold(name, "script"):
		raw = "script"
	case asciiEqualFold(name, "style"):
		raw = "style"
	}
	if raw != "" {
		// Their content is code, not text: skip to the closing tag.
		for k := end + 1; k < len(src); k++ {
			if src[k] == '<' && k+2+len(raw) <= len(src) && src[k+1] == '/' && asciiEqualFold(src[k+2:k+2+len(raw)], raw) {
				if e := tagEnd(src, k+1); e >= 0 {
					return e + 1
				}
			}
		}
		return len(src)
	}
	return end + 1
}

// tagEnd returns the offset of the ">" closing the tag whose name starts
// at i, skipping quoted attribute values, or -1.
func tagEnd(src []byte, i int) int {
	var quote byte
	for ; i < len(src); i++ {
		c := src[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i
		}
	}
	return -1
}

func isNameByte(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// blockTags separate the text around them.
var blockTags = []string{
	"address", "article", "aside", "blockquote", "br", "caption", "center", "dd", "div", "dl", "dt",
	"fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
	"hr", "img", "legend", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td",
	"tfoot", "th", "thead", "title", "tr", "ul",
}

func blockTag(name []byte) bool {
	for _, t := range blockTags {
		if asciiEqualFold(name, t) {
			return true
		}
	}
	return false
}

// commonEntities are decoded without allocating; any other named entity
// goes through html.UnescapeString, which knows them all.
var commonEntities = map[string]rune{
	"amp": '&', "lt": '<', "gt": '>', "quot": '"', "apos": '\'', "nbsp": '\u00a0',
	"hellip": '…', "mdash": '—', "ndash": '–', "lsquo": '‘', "rsquo": '’', "ldquo": '“', "rdquo": '”',
	"copy": '©', "reg": '®', "trade": '™', "euro": '€', "laquo": '«', "raquo": '»', "bull": '•',
}

// entity decodes the character reference at src[i] ("&amp;", "&#233;",
// "&#xE9;") and returns the offset after it; an "&" that starts none is
// text.
func (w *textWriter) entity(src []byte, i int) int {
	end := bytes.IndexByte(src[i+1:min(len(src), i+34)], ';')
	if end < 1 {
		w.rune('&')
		return i + 1
	}
	name := src[i+1 : i+1+end]
	next := i + 1 + end + 1
	if name[0] == '#' {
		if r, ok := numericEntity(name[1:]); ok {
			w.rune(r)
			return next
		}
		w.rune('&')
		return i + 1
	}
	if r, ok := commonEntities[string(name)]; ok {
		w.rune(r)
		return next
	}
	for _, c := range name {
		if !isNameByte(c) {
			w.rune('&')
			return i + 1
		}
	}
	ref := string(src[i:next])
	dec := html.UnescapeString(ref)
	if dec == ref {
		w.rune('&')
		return i + 1
	}
	for _, r := range dec {
		w.rune(r)
	}
	return next
}

func numericEntity(b []byte) (rune, bool) {
	base := 10
	if len(b) > 0 && (b[0] == 'x' || b[0] == 'X') {
		base, b = 16, b[1:]
	}
	if len(b) == 0 || len(b) > 8 {
		return 0, false
	}
	var r rune
	for _, c := range b {
		d := hexVal(c)
		if d < 0 || d >= base {
			return 0, false
		}
		r = r*rune(base) + rune(d)
	}
	// As HTML does: NUL, surrogates and out-of-range code points become
	// U+FFFD.
	if r == 0 || r > unicode.MaxRune || (r >= 0xD800 && r <= 0xDFFF) {
		r = utf8.RuneError
	}
	return r, true
}
