// Command jetexport runs the jetexport services and its client tools. See
// the README for the subcommands; each takes -h.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand: it parses its own flags from args.
type command struct {
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	summary string
}

func commands() map[string]command {
	return map[string]command{
		"serve":       {runServe, "run everything in one process with an embedded NATS server"},
		"gateway":     {runGateway, "run the HTTP gateway and the projector against --nats-url"},
		"exporter":    {runExporter, "run an export worker against --nats-url"},
		"notifier":    {runNotifier, "run the webhook notifier against --nats-url"},
		"keys":        {runKeys, "create, list and revoke API keys"},
		"load":        {runLoad, "load FHIR Bundles, NDJSON or synthetic patients through the API"},
		"export":      {runExport, "start an export, show its progress and download the files"},
		"projections": {runProjections, "rebuild the job projection from the event log"},
		"bench":       {runBench, "measure export throughput against the raw JetStream rates"},
		"webhooks":    {runWebhooks, "receive and verify webhooks locally"},
		"clients":     {runClients, "register SMART Backend Services clients for the FHIR Bulk Data API"},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "jetexport:", err)
		}
		os.Exit(1)
	}
}

// run dispatches to a subcommand; tests call it as main does.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return errors.New("a subcommand is required")
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		usage(stderr, cmds)
		return fmt.Errorf("unknown subcommand %q", args[0])
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: jetexport <subcommand> [flags]")
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
}

// newFlags returns a flag set for subcommand name whose usage goes to stderr.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("jetexport "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// env returns the value of JETEXPORT_<NAME> or def: every flag's default can
// be set from the environment (flag "nats-url" is JETEXPORT_NATS_URL).
func env(flagName, def string) string {
	key := "JETEXPORT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}
