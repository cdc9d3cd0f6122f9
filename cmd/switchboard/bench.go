package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/switchboard-hq/switchboard/internal/bench"
	"github.com/switchboard-hq/switchboard/internal/config"
)

// benchCmd is `switchboard bench`: it runs this very binary as the server.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: find this binary: %w", err)
	}
	return runBench(ctx, args, stdout, stderr, func(args, env []string) *exec.Cmd {
		cmd := exec.Command(exe, args...)
		cmd.Env = env
		return cmd
	})
}

// runBench parses the flags, runs the bench with launch starting the
// server, and prints the report (also when the run ended in an error after
// measuring, so the figures are not lost).
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer, launch bench.Launcher) error {
	cfg := bench.Config{Launch: launch, Progress: stderr}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.Rules, "rules", bench.DefaultRules, "rules to create (a tenth of them match every event)")
	fs.IntVar(&cfg.Conns, "conns", bench.DefaultConns, "concurrent HTTP clients, each in a closed loop")
	fs.DurationVar(&cfg.Duration, "duration", bench.DefaultDuration, "how long the clients send, to the no-op handler and to the server")
	fs.StringVar(&cfg.Database, "database", "", "a SQLite file that does not exist yet, or a postgres:// URL (a fresh schema is created in it); default a temporary SQLite file")
	fs.IntVar(&cfg.PayloadBytes, "events-payload-bytes", bench.DefaultPayloadBytes, "about how large each event's request body is")
	fs.IntVar(&cfg.Conversations, "conversations", bench.DefaultConversations, "how many conversations the events are spread over")
	fs.BoolVar(&cfg.HalfRate, "half-rate", true, "then measure latency at half the sustained processed rate")
	halfDur := fs.Duration("half-rate-duration", 0, "how long the half-rate phase lasts (default: --duration)")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", bench.DefaultDrainTimeout, "how long to wait for the queue to empty after a phase")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the database (SQLite file or PostgreSQL schema)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return config.ErrUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected argument %q\n", fs.Arg(0))
		return config.ErrUsage
	}
	cfg.HalfRateDuration = *halfDur
	if cfg.HalfRateDuration == 0 {
		cfg.HalfRateDuration = cfg.Duration
	}
	rep, err := bench.Run(ctx, cfg)
	if rep != nil {
		write := rep.WriteText
		if *asJSON {
			write = rep.WriteJSON
		}
		if werr := write(stdout); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}
