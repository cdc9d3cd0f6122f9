package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/config"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/tenancy"
)

// tokenCreate mints a token from the shell, for the workspace's first
// member whose role allows it (an admin unless --member-id says otherwise).
func tokenCreate(ctx context.Context, args []string, stdout, stderr *os.File) error {
	p := config.NewParser("token create", config.StoreCommand, stderr)
	fs := p.Flags()
	workspace := fs.String("workspace", tenancy.DefaultWorkspace, "workspace name or id")
	role := fs.String("role", "admin", "token role: admin, supervisor or agent")
	name := fs.String("name", "created with switchboard token create", "a name to recognise the token by")
	memberID := fs.Int64("member-id", 0, "member the token acts for (default: the workspace's first admin)")
	c, err := p.Parse(args, os.LookupEnv)
	if err != nil {
		return err
	}
	r := auth.Role(*role)
	if !r.Valid() {
		return fmt.Errorf("--role must be admin, supervisor or agent, not %q", *role)
	}
	clk := clock.System{}
	st, err := openStore(ctx, c, clk)
	if err != nil {
		return fmt.Errorf("open store %s: %w", c.MaskedDatabase(), err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	ws, err := findWorkspace(ctx, st, *workspace)
	if err != nil {
		return err
	}
	member, err := findMember(ctx, st, ws.ID, *memberID, r)
	if err != nil {
		return err
	}
	secret := auth.NewToken()
	t, err := st.CreateToken(ctx, store.Token{WorkspaceID: ws.ID, MemberID: member.ID, Name: *name, Role: r,
		Hash: auth.HashToken(secret), Hint: secret[:len(auth.TokenPrefix)+4]})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "created %s token %d for member %d (%s) in workspace %q\n", t.Role, t.ID, member.ID, member.Email, ws.Name)
	fmt.Fprintln(stdout, secret)
	return nil
}

// findWorkspace resolves --workspace: an id, or a name only one workspace
// has. Names are display names (docs/concepts.md#workspaces-members-tokens-and-roles), so two workspaces may share
// one; then the operator must say which by id.
func findWorkspace(ctx context.Context, st store.Store, ref string) (store.Workspace, error) {
	return resolveWorkspace(ref,
		func(id int64) (store.Workspace, error) { return st.GetWorkspace(ctx, id) },
		func(name string) ([]store.Workspace, error) { return st.ListWorkspacesByName(ctx, name) })
}

// resolveWorkspace picks the one workspace ref names: by id when ref is a
// number, by name otherwise or besides. When the id and the name point at
// different workspaces, or several workspaces share the name, it refuses
// and lists their ids rather than guess.
func resolveWorkspace(ref string, byID func(int64) (store.Workspace, error),
	byName func(string) ([]store.Workspace, error)) (store.Workspace, error) {
	var found []store.Workspace
	seen := map[int64]bool{}
	add := func(w store.Workspace) {
		if !seen[w.ID] {
			seen[w.ID] = true
			found = append(found, w)
		}
	}
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		w, err := byID(id)
		switch {
		case err == nil:
			add(w)
		case !errors.Is(err, store.ErrNotFound):
			return store.Workspace{}, err
		}
	}
	named, err := byName(ref)
	if err != nil {
		return store.Workspace{}, err
	}
	for _, w := range named {
		add(w)
	}
	switch len(found) {
	case 0:
		return store.Workspace{}, fmt.Errorf("no workspace %q (run `switchboard serve` once to create the default one)", ref)
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, w := range found {
		ids[i] = strconv.FormatInt(w.ID, 10)
	}
	return store.Workspace{}, fmt.Errorf("%q names %d workspaces (ids %s); pass --workspace the id of the one you mean",
		ref, len(found), strings.Join(ids, ", "))
}

func findMember(ctx context.Context, st store.Store, wsID, memberID int64, role auth.Role) (store.Member, error) {
	if memberID != 0 {
		m, err := st.GetMember(ctx, wsID, memberID)
		if err != nil {
			return m, fmt.Errorf("member %d: %w", memberID, err)
		}
		if !m.Role.AtLeast(role) {
			return m, fmt.Errorf("member %d is %s; a token may not exceed its member's role", memberID, m.Role)
		}
		return m, nil
	}
	for offset := 0; ; offset += 500 {
		ms, _, err := st.ListMembers(ctx, wsID, store.Page{Limit: 500, Offset: offset})
		if err != nil {
			return store.Member{}, err
		}
		for _, m := range ms {
			if m.Role == auth.Admin {
				return m, nil
			}
		}
		if len(ms) < 500 {
			return store.Member{}, errors.New("the workspace has no admin member")
		}
	}
}
