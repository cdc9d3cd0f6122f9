package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/switchboard-hq/switchboard/internal/clock"
)

func migrate(ctx context.Context, args []string, stdout, stderr *os.File) error {
	var c config
	fs := newFlagSet("migrate", stderr, &c)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if err := c.validate(); err != nil {
		return err
	}
	st, err := openStore(ctx, &c, clock.System{})
	if err != nil {
		return fmt.Errorf("open store %s: %w", redactDSN(c.Database), err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(stdout, "migrations applied (%s)\n", st.Dialect())
	return nil
}
