package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

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

func findWorkspace(ctx context.Context, st store.Store, ref string) (store.Workspace, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		ws, err := st.GetWorkspace(ctx, id)
		if err == nil {
			return ws, nil
		}
	}
	ws, err := st.GetWorkspaceByName(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return ws, fmt.Errorf("no workspace %q (run `switchboard serve` once to create the default one)", ref)
	}
	return ws, err
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
