package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jetexport/jetexport/internal/app"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	var e envErrors
	var c commonFlags
	c.register(fs, &e, "")
	var x exporterFlags
	x.register(fs, &e)
	cfg := app.Config{Services: app.All}
	registerGateway(fs, &e, &cfg.Gateway, &cfg.HTTP)
	registerNotifier(fs, &e, &cfg.Notifier)
	fs.StringVar(&cfg.DataDir, "data", env("data", "./data"), "directory of the embedded NATS server's JetStream store")
	fs.StringVar(&cfg.NATSListen, "nats-listen", env("nats-listen", "127.0.0.1:4222"), `embedded NATS client address, for the nats CLI and other jetexport processes ("" turns it off)`)
	sync := fs.String("sync", env("sync", "interval"), "embedded server disk sync: interval (fsync every 2 minutes) or always (every write survives power loss; slower)")
	fs.BoolVar(&cfg.Demo, "demo", e.bool("demo", false), "load synthetic demo patients into tenant demo and print an API key and a curl")
	services := fs.String("services", env("services", "all"), `services to run in this process: "all", "none" (NATS only), or a comma list of gateway, projector, exporter, notifier`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	svc, err := parseServices(*services)
	if err != nil {
		e = append(e, err)
	}
	cfg.Services = svc
	switch *sync {
	case "interval":
	case "always":
		cfg.SyncAlways = true
	default:
		e = append(e, fmt.Errorf("--sync %q: want interval or always", *sync))
	}
	if err := errors.Join(e...); err != nil {
		return err
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	base := servicesConfig(c, log, stdout)
	cfg.NATSURL, cfg.Broker, cfg.Log, cfg.Out = base.NATSURL, base.Broker, base.Log, base.Out
	cfg.Exporter = x.config(stderr)
	cfg.Gateway.WebhookPolicy.AllowPrivate = cfg.Notifier.AllowPrivate
	sys, err := app.Start(ctx, cfg)
	if err != nil {
		return err
	}
	log.Info().Str("http", sys.HTTPURL).Str("nats", sys.NATSURL).Msg("jetexport serving")
	return sys.Wait()
}

// parseServices reads --services.
func parseServices(s string) (app.Services, error) {
	switch s {
	case "all":
		return app.All, nil
	case "none", "":
		return app.Services{}, nil
	}
	var out app.Services
	for _, name := range strings.Split(s, ",") {
		switch strings.TrimSpace(name) {
		case "gateway":
			out.Gateway = true
		case "projector":
			out.Projector = true
		case "exporter":
			out.Exporter = true
		case "notifier":
			out.Notifier = true
		default:
			return out, fmt.Errorf("--services: unknown service %q (want gateway, projector, exporter, notifier, all or none)", name)
		}
	}
	return out, nil
}
