package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/apikeys"
	"github.com/jetexport/jetexport/internal/broker"
)

const keysUsage = `usage:
  jetexport keys create --tenant NAME [--live] [--name TEXT] [--nats-url URL]
  jetexport keys list [--tenant NAME] [--nats-url URL]
  jetexport keys revoke KEY_ID [--nats-url URL]`

// runKeys creates, lists and revokes API keys directly in the apikeys
// bucket of the NATS server at --nats-url.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, keysUsage)
		if len(args) == 0 {
			return errors.New("keys: create, list or revoke is required")
		}
		return nil
	}
	sub := args[0]
	fs := newFlags("keys "+sub, stderr)
	natsURL := fs.String("nats-url", env("nats-url", "nats://127.0.0.1:4222"), "NATS server URL")
	var tenant, name *string
	var live *bool
	switch sub {
	case "create":
		tenant = fs.String("tenant", "", "customer the key belongs to (required)")
		live = fs.Bool("live", false, "make a clk_live_ key instead of a clk_test_ key")
		name = fs.String("name", "", "a label shown by keys list")
	case "list":
		tenant = fs.String("tenant", "", "only this customer's keys")
	case "revoke":
	default:
		fmt.Fprintln(stderr, keysUsage)
		return fmt.Errorf("keys: unknown subcommand %q", sub)
	}
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	switch {
	case sub == "revoke" && len(pos) != 1:
		return errors.New("keys revoke: give exactly one KEY_ID (see keys list)")
	case sub != "revoke" && len(pos) > 0:
		return fmt.Errorf("keys %s: unexpected argument %q", sub, pos[0])
	case sub == "create" && *tenant == "":
		return errors.New("keys create: --tenant is required")
	case tenant != nil && *tenant != "" && !events.ValidCustomer(*tenant):
		return fmt.Errorf("keys %s: tenant %q: use lower-case letters, digits and hyphens, at most 40", sub, *tenant)
	}
	keys, closeConn, err := openKeys(ctx, *natsURL)
	if err != nil {
		return err
	}
	defer closeConn()
	switch sub {
	case "create":
		mode := events.ModeTest
		if *live {
			mode = events.ModeLive
		}
		plain, key, err := keys.Create(ctx, *tenant, mode, *name)
		if err != nil {
			return fmt.Errorf("keys create: %w", err)
		}
		fmt.Fprintf(stdout, "%s\n", plain)
		fmt.Fprintf(stderr, "key id %s for tenant %s. The key is shown only this once: store it now.\n", key.ID, key.Tenant)
		return nil
	case "list":
		list, err := keys.List(ctx, *tenant)
		if err != nil {
			return fmt.Errorf("keys list: %w", err)
		}
		printKeys(stdout, list)
		return nil
	default:
		if err := keys.Revoke(ctx, pos[0]); err != nil {
			if errors.Is(err, apikeys.ErrUnknown) {
				return fmt.Errorf("keys revoke: no key has id %q (see keys list)", pos[0])
			}
			return fmt.Errorf("keys revoke: %w", err)
		}
		fmt.Fprintf(stdout, "revoked %s\n", pos[0])
		return nil
	}
}

// parseInterleaved parses flags that may come before or after positional
// arguments ("revoke KEY_ID --nats-url ...") and returns the positionals.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// openKeys connects to NATS and returns the key store and a func closing it.
func openKeys(ctx context.Context, url string) (*apikeys.Keys, func(), error) {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	nc, js, err := broker.Connect(cctx, url, "jetexport keys", nats.MaxReconnects(0))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach NATS at %s; is `jetexport serve` running? (%w)", url, err)
	}
	sctx, cancel2 := context.WithTimeout(ctx, 10*time.Second)
	defer cancel2()
	// Open, not Setup: a client must not reset a cluster's assets to its
	// own defaults (replicas 1, default retention).
	a, err := broker.Open(sctx, js)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("open jetexport at %s: %w", url, err)
	}
	return apikeys.New(a.APIKeys, nil), nc.Close, nil
}

func printKeys(w io.Writer, keys []apikeys.Key) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTENANT\tPREFIX\tNAME\tCREATED\tREVOKED")
	for _, k := range keys {
		revoked := "-"
		if k.RevokedAt != nil {
			revoked = k.RevokedAt.Format(time.RFC3339)
		}
		name := k.Name
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s...\t%s\t%s\t%s\n", k.ID, k.Tenant, k.Prefix, name,
			k.CreatedAt.Format(time.RFC3339), revoked)
	}
	tw.Flush()
}
