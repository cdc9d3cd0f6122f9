package engine

import (
	"regexp"
	"testing"
)

// TestLiteralSet: which patterns take the fast path, and that they then
// match exactly what regexp matches.
func TestLiteralSet(t *testing.T) {
	tests := []struct {
		pattern string
		fast    bool
	}{
		{`chargeback|lawsuit|gdpr request`, true},
		{`refund|return`, true}, // factored by the parser into re(?:fund|turn)
		{`@(competitor|press)\.`, true},
		{`urgent`, true},
		{`order\s+#\d+`, false},
		{`^refund`, false},
		{`refund$`, false},
		{`a|`, false}, // matches the empty string: everywhere
		{`(?-i)Refund`, false},
		{`[ab]c`, false},
		{`\bcancel\b`, false},
		{`(a|b|c)(d|e|f)(g|h|i)(j|k|l)`, false}, // 81 strings: past maxLiterals
	}
	for _, tt := range tests {
		_, fast := literalSet("(?i)" + tt.pattern)
		if fast != tt.fast {
			t.Errorf("literalSet(%q) fast = %v, want %v", tt.pattern, fast, tt.fast)
		}
	}
	texts := []string{
		"", "Hello, I want a REFUND now", "re-fund", "RETURN", "ReTuRn policy", "write to @Press.example",
		"@competitor", "gdpr  request", "GDPR REQUEST", "lawſuit", "ſtop", "\u212Aelvin", "in\xffvalid refund",
		"chargebac", "xchargebackx",
	}
	for _, tt := range tests {
		re := regexp.MustCompile("(?i)" + tt.pattern)
		lits, fast := literalSet("(?i)" + tt.pattern)
		if !fast {
			continue
		}
		for _, text := range texts {
			if got, want := lits.containsAny([]byte(text)), re.MatchString(text); got != want {
				t.Errorf("pattern %q on %q: fast path %v, regexp %v", tt.pattern, text, got, want)
			}
		}
	}
}

// FuzzLiteralMatches: on every pattern the fast path takes and every text,
// it agrees with regexp.
func FuzzLiteralMatches(f *testing.F) {
	f.Add(`chargeback|lawsuit|gdpr request`, "a chargeback, please")
	f.Add(`@(competitor|press)\.`, "x@PRESS.example")
	f.Add(`stop`, "ſtop")
	f.Add(`kelvin`, "\u212Aelvin")
	f.Add(`re(fund|turn)`, "RETURN")
	f.Add("\ufffd", "in\xffvalid")
	f.Fuzz(func(t *testing.T, pattern, text string) {
		lits, fast := literalSet("(?i)" + pattern)
		if !fast {
			return
		}
		re, err := regexp.Compile("(?i)" + pattern)
		if err != nil {
			t.Fatalf("literalSet took %q, which regexp refuses: %v", pattern, err)
		}
		if got, want := lits.containsAny([]byte(text)), re.MatchString(text); got != want {
			t.Fatalf("pattern %q on %q: fast path %v, regexp %v", pattern, text, got, want)
		}
	})
}

// BenchmarkMatchesLiterals: a keyword list that does not match a ~250-byte
// message body, through regexp and through the fast path.
func BenchmarkMatchesLiterals(b *testing.B) {
	const pattern = `(?i)chargeback|lawsuit|gdpr request`
	body := []byte("Hello support team,\n\nmy order #32665 arrived today and the box was damaged. Could you " +
		"please send a replacement or tell me how to return it? I attached two photos of the parcel and the " +
		"receipt from the courier. Thanks in advance for your help, best regards")
	re := regexp.MustCompile(pattern)
	lits, _ := literalSet(pattern)
	b.Run("regexp", func(b *testing.B) {
		for b.Loop() {
			re.Match(body)
		}
	})
	b.Run("literals", func(b *testing.B) {
		for b.Loop() {
			lits.containsAny(body)
		}
	})
}
