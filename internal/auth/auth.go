// Package auth holds roles and API tokens: how they are made, hashed and
// compared. Tokens are shown once; only their SHA-256 is ever stored.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Role is a member's or token's level of access.
type Role string

// The three roles, from most to least powerful.
const (
	Admin      Role = "admin"
	Supervisor Role = "supervisor"
	Agent      Role = "agent"
)

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r.rank() > 0 }

func (r Role) rank() int {
	switch r {
	case Admin:
		return 3
	case Supervisor:
		return 2
	case Agent:
		return 1
	}
	return 0
}

// AtLeast reports whether r grants everything min grants.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() && r.Valid() }

// Lower returns the less powerful of a and b: a token never acts above its
// member's current role.
func Lower(a, b Role) Role {
	if a.rank() <= b.rank() {
		return a
	}
	return b
}

// TokenPrefix starts every API token, so a leaked one is easy to recognise
// (and to find with secret scanners).
const TokenPrefix = "sbt_"

// NewToken returns a fresh token: the prefix and 256 random bits.
func NewToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("auth: crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashToken returns the stored form of a token: its SHA-256, hex. Tokens are
// high-entropy, so a fast hash is safe here and keeps authentication cheap.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Equal compares two token hashes in constant time.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// LooksLikeToken reports whether s has the shape of a Switchboard token.
func LooksLikeToken(s string) bool {
	return strings.HasPrefix(s, TokenPrefix) && len(s) == len(TokenPrefix)+43
}

// NewWebhookSecret returns a fresh signing secret in the Standard Webhooks
// form: "whsec_" and base64 of 32 random bytes.
func NewWebhookSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("auth: crypto/rand failed: " + err.Error())
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}
