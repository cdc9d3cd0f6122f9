// Command switchboard is the Switchboard server and its admin tools.
//
//	switchboard serve          run the HTTP API and the workers
//	switchboard migrate        apply database migrations and exit
//	switchboard token create   mint an API token from the shell
//	switchboard version        print the version
//	switchboard bench          measure this machine with a real server
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	_ "time/tzdata" // IANA zones even on machines without zoneinfo

	"github.com/switchboard-hq/switchboard/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: switchboard <command> [flags]

commands:
  serve          run the HTTP API and the workers
  migrate        apply database migrations and exit
  token create   create an API token (--workspace W --role R)
  version        print the version
  bench          measure this machine: a real server, HTTP clients, a no-op baseline

Run "switchboard <command> -h" for a command's flags.
`

// run dispatches a command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr *os.File) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stdout, stderr)
	case "migrate":
		err = migrate(ctx, args[1:], stdout, stderr)
	case "token":
		if len(args) < 2 || args[1] != "create" {
			fmt.Fprint(stderr, "usage: switchboard token create --workspace W --role R [--name N]\n")
			return 2
		}
		err = tokenCreate(ctx, args[2:], stdout, stderr)
	case "bench":
		err = benchCmd(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "switchboard", version())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "switchboard: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, config.ErrUsage):
		return 2 // the flag package has said what was wrong
	default:
		// One line per problem: a configuration error lists every bad
		// setting at once.
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, "switchboard:", line)
		}
		return 1
	}
}
