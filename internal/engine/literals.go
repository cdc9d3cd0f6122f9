package engine

import (
	"regexp/syntax"
	"unicode"
	"unicode/utf8"
)

// Keyword lists are the most common pattern in helpdesk rules
// ("refund|chargeback|cancel my order"), and RE2 searches them slowly: a
// pattern that fails reads the whole text through its backtracker or NFA,
// ~20 µs for a 1 KB message body in switchboard bench. A pattern that is
// a finite set of literals (alternations and concatenations of literal
// strings, as regexp/syntax parses it) is searched directly instead,
// comparing runes as (?i) does: equal under Unicode simple case folding.
// Anything else (classes, repeats, anchors, the empty string) stays with
// regexp. The cost charged to the event's budget is the regexp's either
// way (see EvaluationBudget), so the fast path changes no outcome.

// maxLiterals caps how many strings a pattern may expand to (a product of
// alternations grows fast); past it, regexp searches.
const maxLiterals = 32

// foldSet is a finite set of literals to search for, each rune as its
// case-folding orbit, and the runes a match can start with.
type foldSet struct {
	lits  [][][]rune // lits[k][j]: the orbit of literal k's rune j
	first [utf8.RuneSelf]bool
	wide  []rune // first runes past ASCII
}

// literalSet returns the strings pattern (as the engine compiles it, with
// (?i)) matches exactly, when it is such a finite set of non-empty
// literals; ok is false otherwise.
func literalSet(pattern string) (*foldSet, bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, false
	}
	lits, ok := literals(re.Simplify())
	if !ok || len(lits) == 0 {
		return nil, false
	}
	fs := &foldSet{}
	for _, l := range lits {
		if len(l) == 0 {
			return nil, false // matches everywhere: let regexp say so
		}
		orbits := make([][]rune, len(l))
		for j, r := range l {
			orbits[j] = orbit(r)
		}
		for _, r := range orbits[0] {
			if r < utf8.RuneSelf {
				fs.first[r] = true
			} else {
				fs.wide = append(fs.wide, r)
			}
		}
		fs.lits = append(fs.lits, orbits)
	}
	return fs, true
}

// orbit is r's simple case-folding orbit, r first: the runes (?i) matches
// for r.
func orbit(r rune) []rune {
	out := []rune{r}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		out = append(out, f)
	}
	return out
}
func literals(re *syntax.Regexp) ([][]rune, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase == 0 {
			return nil, false // (?-i): compared exactly, not searched here
		}
		return [][]rune{re.Rune}, true
	case syntax.OpCapture:
		return literals(re.Sub[0])
	case syntax.OpAlternate:
		var out [][]rune
		for _, sub := range re.Sub {
			l, ok := literals(sub)
			if !ok || len(out)+len(l) > maxLiterals {
				return nil, false
			}
			out = append(out, l...)
		}
		return out, true
	case syntax.OpConcat:
		out := [][]rune{{}}
		for _, sub := range re.Sub {
			l, ok := literals(sub)
			if !ok || len(out)*len(l) > maxLiterals {
				return nil, false
			}
			next := make([][]rune, 0, len(out)*len(l))
			for _, a := range out {
				for _, b := range l {
					next = append(next, append(append(make([]rune, 0, len(a)+len(b)), a...), b...))
				}
			}
			out = next
		}
		return out, true
	}
	return nil, false
}

// containsAny reports whether text contains one of the set's literals,
// runes compared as (?i) compares them. An invalid byte of text reads as
// U+FFFD, as regexp reads it.
func (fs *foldSet) containsAny(text []byte) bool {
	for i := 0; i < len(text); {
		r, w := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRune(text[i:])
		}
		if fs.mayStart(r) {
			for _, l := range fs.lits {
				if hasPrefix(text[i:], l) {
					return true
				}
			}
		}
		i += w
	}
	return false
}

func (fs *foldSet) mayStart(r rune) bool {
	if r < utf8.RuneSelf {
		return fs.first[r]
	}
	for _, x := range fs.wide {
		if x == r {
			return true
		}
	}
	return false
}

func hasPrefix(text []byte, lit [][]rune) bool {
	for _, orbit := range lit {
		if len(text) == 0 {
			return false
		}
		r, w := rune(text[0]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRune(text)
		}
		if !inOrbit(r, orbit) {
			return false
		}
		text = text[w:]
	}
	return true
}

func inOrbit(r rune, orbit []rune) bool {
	for _, x := range orbit {
		if x == r {
			return true
		}
	}
	return false
}
