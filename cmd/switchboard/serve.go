package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/httpapi"
	"github.com/switchboard-hq/switchboard/internal/pipeline"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/tenancy"
)

// Server timeouts: slow clients cannot hold connections open (Slowloris),
// and no request runs unbounded.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	// shutdownTimeout leaves room inside the 10 s a SIGTERM allows.
	shutdownTimeout = 8 * time.Second
)

func serve(ctx context.Context, args []string, stdout, stderr *os.File) error {
	var c config
	fs := newFlagSet("serve", stderr, &c)
	fs.StringVar(&c.Addr, "addr", env("SWITCHBOARD_ADDR", "127.0.0.1:8080"), "listen address (SWITCHBOARD_ADDR)")
	fs.DurationVar(&c.SchedulerInterval, "scheduler-interval", envDuration("SWITCHBOARD_SCHEDULER_INTERVAL", 10*time.Second),
		"how often time-based triggers, snoozes and pauses are checked, 1s..30s (SWITCHBOARD_SCHEDULER_INTERVAL)")
	fs.BoolVar(&c.AllowPrivateTargets, "allow-private-targets", envBool("SWITCHBOARD_ALLOW_PRIVATE_TARGETS"),
		"allow webhooks to loopback and private addresses (SWITCHBOARD_ALLOW_PRIVATE_TARGETS=1)")
	fs.BoolVar(&c.MultiWorkspace, "multi-workspace", envBool("SWITCHBOARD_MULTI_WORKSPACE"),
		"allow admins to create more workspaces with POST /v1/workspaces (SWITCHBOARD_MULTI_WORKSPACE=1)")
	fs.IntVar(&c.Workers, "workers", envInt("SWITCHBOARD_WORKERS", 4), "event workers on this node (SWITCHBOARD_WORKERS)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if err := c.validate(); err != nil {
		return err
	}
	if c.Workers < 1 || c.Workers > 256 {
		return fmt.Errorf("--workers must be between 1 and 256, not %d", c.Workers)
	}
	c.BootstrapToken = os.Getenv("SWITCHBOARD_BOOTSTRAP_TOKEN")
	log := c.logger(stderr)
	clk := clock.System{}

	st, err := openStore(ctx, &c, clk)
	if err != nil {
		return fmt.Errorf("open store %s: %w", redactDSN(c.Database), err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	boot, created, err := tenancy.Bootstrap(ctx, st, c.BootstrapToken)
	if err != nil {
		return err
	}
	if created {
		if c.BootstrapToken != "" {
			fmt.Fprintf(stdout, "Created workspace %q with the admin token from SWITCHBOARD_BOOTSTRAP_TOKEN.\n", tenancy.DefaultWorkspace)
		} else {
			fmt.Fprintf(stdout, "Created workspace %q.\nAdmin token (shown once, keep it safe):\n\n    %s\n\n", tenancy.DefaultWorkspace, boot.Token)
		}
		fmt.Fprintf(stdout, "Webhook signing secret (shown once; rotate it with POST /v1/workspace/secret):\n\n    %s\n\n", boot.WebhookSecret)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// The pipeline: compiled rules (kept fresh across nodes by the store's
	// change feed), group-commit ingestion and the workers.
	programs := pipeline.NewPrograms(st)
	rulesChanged := func(ws int64) {}
	bgCtx, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	if feed, ok := st.(store.ChangeFeed); ok {
		rulesChanged = func(ws int64) {
			if err := feed.PublishRulesChanged(context.Background(), ws); err != nil {
				log.Warn("unable to tell other nodes that rules changed", "workspace_id", ws, "err", err)
			}
		}
	}
	lease := envDuration("SWITCHBOARD_LEASE", 30*time.Second)
	workers := pipeline.StartWorkers(st, pipeline.NewEngine(st, programs, clk), pipeline.WorkerOptions{
		Workers: c.Workers, Lease: lease, Clock: clk, Logger: log})
	committers := 1
	if st.Dialect() == "postgres" {
		committers = 4 // PostgreSQL takes concurrent writers; SQLite has one
	} else {
		// SQLite's commits block a thread in fsync; keep the cores busy.
		defer pipeline.SpareProc()()
	}
	ingester := pipeline.NewIngester(st, pipeline.IngesterOptions{Committers: committers, Notify: workers.Wake})

	api := httpapi.New(httpapi.Config{MultiWorkspace: c.MultiWorkspace, Version: version()},
		httpapi.Deps{Store: st, Clock: clk, Logger: log, Registry: reg, Programs: programs,
			Ingester: ingester, Wake: workers.Wake, RulesChanged: rulesChanged})
	if feed, ok := st.(store.ChangeFeed); ok {
		// Changes made through other nodes (rules, tokens, members) drop
		// this node's compiled rules and cached credentials.
		go func() {
			err := feed.SubscribeRulesChanged(bgCtx, api.Invalidate)
			if err != nil && bgCtx.Err() == nil {
				log.Error("change feed stopped", "err", err)
			}
		}()
	}

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          nil,
	}
	log.Info("switchboard listening", "addr", ln.Addr().String(), "database", redactDSN(c.Database),
		"store", st.Dialect(), "version", version(), "multi_workspace", c.MultiWorkspace)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests and in-flight events")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("HTTP shutdown did not finish cleanly", "err", err)
	}
	// Every accepted request has been answered; commit what is queued,
	// then let the workers finish (or release) their batches.
	ingester.Close()
	if err := workers.Stop(shutdownCtx); err != nil {
		log.Warn("workers did not stop in time; their leases will expire", "err", err)
	}
	stopBackground()
	log.Info("stopped")
	return nil
}
