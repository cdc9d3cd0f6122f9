// Package tenancy creates workspaces: the bootstrap of an empty store and
// POST /v1/workspaces share it, so both produce the same admin member and
// token.
package tenancy

import (
	"context"
	"fmt"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// DefaultWorkspace is the name of the workspace an empty store starts with.
const DefaultWorkspace = "default"

// CreateWorkspace creates a workspace with an admin member and an admin
// token. When token is empty a fresh one is generated; it is returned in
// clear exactly once, here.
func CreateWorkspace(ctx context.Context, s store.Store, name, token string) (store.Workspace, store.Member, string, error) {
	if token == "" {
		token = auth.NewToken()
	}
	if !auth.LooksLikeToken(token) {
		return store.Workspace{}, store.Member{}, "", fmt.Errorf("tenancy: a token must be %q followed by 43 base64url characters (generate one with `switchboard token create`)", auth.TokenPrefix)
	}
	ws, m, _, err := s.CreateWorkspace(ctx, store.NewWorkspace{
		Name:       name,
		Secret:     auth.NewWebhookSecret(),
		AdminName:  "Admin",
		AdminEmail: "admin@" + sanitize(name) + ".invalid",
		TokenName:  "bootstrap admin token",
		TokenHash:  auth.HashToken(token),
		TokenHint:  token[:len(auth.TokenPrefix)+4],
	})
	if err != nil {
		return store.Workspace{}, store.Member{}, "", err
	}
	return ws, m, token, nil
}

// sanitize makes a workspace name usable as a placeholder e-mail domain
// label (the admin's address is a placeholder the admin can change).
func sanitize(name string) string {
	out := make([]byte, 0, len(name))
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
			out = append(out, c)
		case c >= 'A' && c <= 'Z':
			out = append(out, c+'a'-'A')
		default:
			out = append(out, '-')
		}
	}
	if len(out) == 0 || len(out) > 63 {
		return "workspace"
	}
	return string(out)
}

// Bootstrapped is what Bootstrap made: the admin token and the webhook
// signing secret, each in clear. They are shown this once (docs/concepts.md#workspaces-members-tokens-and-roles): no
// GET ever returns the secret, so the operator must see it here.
type Bootstrapped struct {
	Token         string
	WebhookSecret string
}

// Bootstrap creates the default workspace when the store has none. It
// returns what it made and true when it created it, or false when the
// store already had a workspace.
func Bootstrap(ctx context.Context, s store.Store, token string) (Bootstrapped, bool, error) {
	n, err := s.CountWorkspaces(ctx)
	if err != nil {
		return Bootstrapped{}, false, err
	}
	if n > 0 {
		return Bootstrapped{}, false, nil
	}
	ws, _, tok, err := CreateWorkspace(ctx, s, DefaultWorkspace, token)
	if err != nil {
		return Bootstrapped{}, false, fmt.Errorf("tenancy: bootstrap: %w", err)
	}
	return Bootstrapped{Token: tok, WebhookSecret: ws.Secret}, true, nil
}
