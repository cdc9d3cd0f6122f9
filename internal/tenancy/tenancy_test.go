package tenancy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
	"github.com/switchboard-hq/switchboard/internal/tenancy"
)

// TestBootstrapShowsTheSigningSecret: defect 5. No GET returns the
// webhook signing secret, so the bootstrap must hand it to serve, beside
// the admin token, the one time it is made; and only on an empty store.
func TestBootstrapShowsTheSigningSecret(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := storetest.Open(t, d)
			boot, created, err := tenancy.Bootstrap(ctx, st, "")
			if err != nil || !created {
				t.Fatalf("Bootstrap on an empty store = %v, %v", created, err)
			}
			ws, err := st.GetWorkspaceByName(ctx, tenancy.DefaultWorkspace)
			if err != nil {
				t.Fatal(err)
			}
			if boot.WebhookSecret != ws.Secret || !strings.HasPrefix(boot.WebhookSecret, "whsec_") {
				t.Errorf("Bootstrap showed secret %q, the workspace signs with %q", boot.WebhookSecret, ws.Secret)
			}
			if !auth.LooksLikeToken(boot.Token) {
				t.Errorf("Bootstrap showed token %q", boot.Token)
			}
			again, created, err := tenancy.Bootstrap(ctx, st, "")
			if err != nil || created || again != (tenancy.Bootstrapped{}) {
				t.Errorf("Bootstrap on a bootstrapped store = %+v, %v, %v; want nothing shown", again, created, err)
			}
		})
	}
}
