package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/services/notifier"
)

// runNotifier runs the webhook notifier against the NATS server or cluster
// at --nats-url. Run as many as you like: they share the work.
func runNotifier(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("notifier", stderr)
	var e envErrors
	var c commonFlags
	c.register(fs, &e, "nats://127.0.0.1:4222")
	var cfg notifier.Config
	fs.StringVar(&cfg.PublicURL, "public-url", env("public-url", "http://127.0.0.1:8080"), "base URL clients reach the gateway at, for the download links in payloads")
	registerNotifier(fs, &e, &cfg)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("notifier: unexpected argument %q", fs.Arg(0))
	}
	if err := errors.Join(e...); err != nil {
		return err
	}
	if c.natsURL == "" {
		return errors.New("--nats-url is required")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	nc, js, err := broker.Connect(cctx, c.natsURL, "jetexport-notifier")
	if err != nil {
		return err
	}
	defer nc.Close()
	assets, err := broker.Setup(cctx, js, c.brokerConfig())
	if err != nil {
		return err
	}
	n, err := notifier.New(cfg, notifier.Deps{Assets: assets, Log: log.With().Str("service", "notifier").Logger()})
	if err != nil {
		return err
	}
	log.Info().Str("service", "notifier").Str("nats", c.natsURL).Msg("jetexport running")
	return n.Run(ctx)
}

// registerNotifier registers the notifier's flags (all but --public-url,
// which serve shares with the gateway) with their JETEXPORT_* defaults.
func registerNotifier(fs *flag.FlagSet, e *envErrors, cfg *notifier.Config) {
	fs.DurationVar(&cfg.Timeout, "webhook-timeout", e.duration("webhook-timeout", 10*time.Second), "time a receiver has to answer a delivery")
	fs.DurationVar(&cfg.MaxRetryAge, "webhook-max-retry-age", e.duration("webhook-max-retry-age", 24*time.Hour), "how long a delivery is retried before it is marked failed")
	schedule := scheduleFlag(notifier.DefaultSchedule())
	if v := env("webhook-schedule", ""); v != "" {
		if err := schedule.Set(v); err != nil {
			*e = append(*e, fmt.Errorf("JETEXPORT_WEBHOOK_SCHEDULE: %w", err))
		}
	}
	cfg.Schedule = schedule
	fs.Func("webhook-schedule", "waits between attempts, comma-separated, the last repeating (default 5s,30s,2m,10m,1h)", func(v string) error {
		if err := schedule.Set(v); err != nil {
			return err
		}
		cfg.Schedule = schedule
		return nil
	})
	fs.BoolVar(&cfg.AllowPrivate, "webhook-allow-private", e.bool("webhook-allow-private", false), "let webhooks reach loopback, private and link-local addresses (local development only)")
	fs.IntVar(&cfg.MaxConcurrent, "webhook-max-concurrent", e.int("webhook-max-concurrent", 32), "deliveries in flight in this process")
	fs.IntVar(&cfg.MaxPerEndpoint, "webhook-max-per-endpoint", e.int("webhook-max-per-endpoint", 4), "deliveries in flight to one endpoint in this process")
}

// scheduleFlag is a comma-separated list of durations.
type scheduleFlag []time.Duration

func (s *scheduleFlag) Set(v string) error {
	var out []time.Duration
	for part := range strings.SplitSeq(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			return fmt.Errorf("webhook schedule %q: want positive durations separated by commas, such as 5s,30s,2m", v)
		}
		out = append(out, d)
	}
	*s = out
	return nil
}
