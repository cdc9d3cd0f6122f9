package auth

import (
	"strings"
	"testing"
)

func TestRoles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		role, min Role
		atLeast   bool
	}{
		{Admin, Admin, true}, {Admin, Supervisor, true}, {Admin, Agent, true},
		{Supervisor, Admin, false}, {Supervisor, Supervisor, true}, {Supervisor, Agent, true},
		{Agent, Admin, false}, {Agent, Supervisor, false}, {Agent, Agent, true},
		{Role("owner"), Agent, false}, {Role(""), Agent, false},
	}
	for _, tt := range tests {
		if got := tt.role.AtLeast(tt.min); got != tt.atLeast {
			t.Errorf("%q.AtLeast(%q) = %v, want %v", tt.role, tt.min, got, tt.atLeast)
		}
	}
	lower := []struct{ a, b, want Role }{
		{Admin, Agent, Agent}, {Agent, Admin, Agent}, {Supervisor, Admin, Supervisor}, {Admin, Admin, Admin},
	}
	for _, tt := range lower {
		if got := Lower(tt.a, tt.b); got != tt.want {
			t.Errorf("Lower(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
	for _, r := range []Role{Admin, Supervisor, Agent} {
		if !r.Valid() {
			t.Errorf("%q is not valid", r)
		}
	}
	if Role("root").Valid() {
		t.Error(`"root" is valid`)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		tok := NewToken()
		if !LooksLikeToken(tok) || !strings.HasPrefix(tok, TokenPrefix) {
			t.Fatalf("NewToken() = %q: not a token", tok)
		}
		if seen[tok] {
			t.Fatalf("NewToken repeated %q", tok)
		}
		seen[tok] = true
		h := HashToken(tok)
		if len(h) != 64 || h == tok || HashToken(tok) != h {
			t.Fatalf("HashToken(%q) = %q: not a stable SHA-256 hex", tok, h)
		}
		if !Equal(h, HashToken(tok)) || Equal(h, HashToken(NewToken())) {
			t.Fatal("Equal does not compare hashes")
		}
	}
	for _, bad := range []string{"", "sbt_", "sbt_short", "xyz_" + strings.Repeat("a", 43), TokenPrefix + strings.Repeat("a", 44)} {
		if LooksLikeToken(bad) {
			t.Errorf("LooksLikeToken(%q) = true", bad)
		}
	}
	if s := NewWebhookSecret(); !strings.HasPrefix(s, "whsec_") || len(s) != len("whsec_")+44 {
		t.Errorf("NewWebhookSecret() = %q", s)
	}
}
