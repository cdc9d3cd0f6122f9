package main

import (
	"context"
	"fmt"
	"os"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/config"
)

func migrate(ctx context.Context, args []string, stdout, stderr *os.File) error {
	c, err := config.NewParser("migrate", config.StoreCommand, stderr).Parse(args, os.LookupEnv)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c, clock.System{})
	if err != nil {
		return fmt.Errorf("open store %s: %w", c.MaskedDatabase(), err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(stdout, "migrations applied (%s)\n", st.Dialect())
	return nil
}
