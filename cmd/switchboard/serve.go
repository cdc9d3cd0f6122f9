package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/config"
	"github.com/switchboard-hq/switchboard/internal/delivery"
	"github.com/switchboard-hq/switchboard/internal/httpapi"
	"github.com/switchboard-hq/switchboard/internal/pipeline"
	"github.com/switchboard-hq/switchboard/internal/scheduler"
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
	c, err := config.NewParser("serve", config.ServeCommand, stderr).Parse(args, os.LookupEnv)
	if err != nil {
		return err
	}
	log := newLogger(c, stderr)
	// Before anything can fail on it: what this process runs with, secrets
	// masked (Config is a slog.LogValuer).
	log.Info("effective configuration", "config", c)
	clk := clock.System{}

	st, err := openStore(ctx, c, clk)
	if err != nil {
		return fmt.Errorf("open store %s: %w", c.MaskedDatabase(), err)
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
	nWorkers, batch := config.WorkersFor(c.Workers, st.Dialect())
	engine := pipeline.NewEngine(st, programs, clk)
	workers := pipeline.StartWorkers(st, engine, pipeline.WorkerOptions{
		Workers: nWorkers, Batch: batch, Lease: c.Lease, Clock: clk, Logger: log,
		HoldUntilCommitted: st.Dialect() == "sqlite"})
	// The scheduler enqueues the events of time-based triggers as their
	// waits come due, every --scheduler-interval (once across nodes).
	sched := scheduler.New(st, clk, c.SchedulerInterval, log)
	sched.Notify = workers.Wake
	go sched.Run(bgCtx)

	// The delivery workers drain the outbox: signed pushes, send_webhook
	// and SMTP replies, each target with its own concurrency, every
	// outbound connection checked by the SSRF guard unless
	// --allow-private-targets.
	pool, err := delivery.NewPool(delivery.StoreOutbox{Store: st, EventJSON: httpapi.EventJSON},
		delivery.NewHTTPSender(delivery.HTTPConfig{Guard: &delivery.Guard{AllowPrivate: c.AllowPrivateTargets}}),
		&delivery.SMTPSender{}, delivery.PoolConfig{Clock: clk, Logger: log, DrainTimeout: 4 * time.Second})
	if err != nil {
		return err
	}
	poolCtx, stopPool := context.WithCancel(context.Background())
	defer stopPool()
	poolDone := make(chan error, 1)
	go func() { poolDone <- pool.Run(poolCtx) }()
	defer lessGC()()
	committers := 1
	if st.Dialect() == "postgres" {
		committers = 4 // PostgreSQL takes concurrent writers; SQLite has one
	} else {
		// SQLite's commits block a thread in fsync; keep the cores busy.
		defer pipeline.SpareProc()()
	}
	// An event nothing evaluates is stored finished by its ingest commit
	// (Engine.Settle); the others go to the workers, some handed off.
	ingester := pipeline.NewIngester(st, pipeline.IngesterOptions{Committers: committers, Notify: workers.WakeFor,
		HandOff: workers.HandOff, Settle: engine.Settle})

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

	if c.DebugAddr != "" {
		stopDebug, err := serveDebug(c.DebugAddr, log)
		if err != nil {
			return err
		}
		defer stopDebug()
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
	log.Info("switchboard listening", "addr", ln.Addr().String(), "store", st.Dialect(), "version", version())

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
	// Deliveries in flight finish (or are handed back); unsent ones stay
	// in the outbox for the next start or another node.
	stopPool()
	if err := <-poolDone; err != nil {
		log.Warn("delivery workers did not stop cleanly; their leases will expire", "err", err)
	}
	stopBackground()
	log.Info("stopped")
	return nil
}

// serveDebug serves net/http/pprof on addr (a loopback address, checked by
// config) on its own listener and mux, so profiles are never part of the
// API's router. It returns a function that closes it.
func serveDebug(addr string, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on the debug address %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout}
	log.Info("profiles served", "addr", ln.Addr().String(), "path", "/debug/pprof/")
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}

// lessGC quadruples the garbage collector's heap target (GOGC=400): the
// server's garbage is short-lived (request bodies, decoded payloads,
// outcomes), and at Go's default the collector took ~11 % of its CPU.
// switchboard bench --rules 100 on 2 cores, SQLite, 3 alternating runs:
// CPU per event ~1,430 µs at GOGC=100 and ~910–1,190 µs at 400, for peak
// RSS ~80 → ~95–125 MB; 800 saved nothing more for ~40 MB more. On
// PostgreSQL, GOGC=200 had taken ~600 → ~510 µs. A GOGC set in the
// environment wins. It returns a function that restores the setting.
func lessGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	prev := debug.SetGCPercent(400)
	return func() { debug.SetGCPercent(prev) }
}
