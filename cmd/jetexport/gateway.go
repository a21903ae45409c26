package main

import (
	"context"
	"errors"
	"io"

	"github.com/jetexport/jetexport/internal/app"
)

func runGateway(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gateway", stderr)
	var e envErrors
	var c commonFlags
	c.register(fs, &e, "nats://127.0.0.1:4222")
	cfg := app.Config{Services: app.Services{Gateway: true, Projector: true}}
	registerGateway(fs, &e, &cfg.Gateway, &cfg.HTTP)
	fs.BoolVar(&cfg.Gateway.WebhookPolicy.AllowPrivate, "webhook-allow-private", e.bool("webhook-allow-private", false),
		"accept webhook URLs on loopback, private and link-local addresses (local development only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return runServices(ctx, c, cfg, e, stdout, stderr, "gateway")
}

func runExporter(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("exporter", stderr)
	var e envErrors
	var c commonFlags
	c.register(fs, &e, "nats://127.0.0.1:4222")
	var x exporterFlags
	x.register(fs, &e)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := app.Config{Services: app.Services{Exporter: true}, Exporter: x.config(stderr)}
	return runServices(ctx, c, cfg, e, stdout, stderr, "exporter")
}

// runServices runs some services against an external NATS server.
func runServices(ctx context.Context, c commonFlags, cfg app.Config, e envErrors, stdout, stderr io.Writer, name string) error {
	if err := errors.Join(e...); err != nil {
		return err
	}
	if c.natsURL == "" {
		return errors.New("--nats-url is required")
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	base := servicesConfig(c, log, stdout)
	cfg.NATSURL, cfg.Broker, cfg.Log, cfg.Out = base.NATSURL, base.Broker, base.Log, base.Out
	sys, err := app.Start(ctx, cfg)
	if err != nil {
		return err
	}
	log.Info().Str("service", name).Str("http", sys.HTTPURL).Str("nats", sys.NATSURL).Msg("jetexport running")
	return sys.Wait()
}
