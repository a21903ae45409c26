// Package app wires jetexport's services into one running system: an
// embedded NATS server or a connection to an external one, the JetStream
// assets, and whichever of the gateway, projector, exporter and notifier the
// process runs. `jetexport serve` runs them all; the end-to-end tests and the
// benchmark start the same wiring on random ports.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/fhirstore"
	"github.com/jetexport/jetexport/internal/natsserver"
	"github.com/jetexport/jetexport/services/exporter"
	"github.com/jetexport/jetexport/services/gateway"
	"github.com/jetexport/jetexport/services/notifier"
	"github.com/jetexport/jetexport/services/projector"
)

// Services says which services a process runs.
type Services struct {
	Gateway, Projector, Exporter, Notifier bool
}

// All runs every service.
var All = Services{Gateway: true, Projector: true, Exporter: true, Notifier: true}

// Config is everything a jetexport process needs.
type Config struct {
	// NATSURL connects to an external server or cluster; when empty an
	// embedded server runs with its store under DataDir.
	NATSURL    string
	DataDir    string
	NATSListen string // embedded server's client address; "" turns it off
	// SyncAlways makes the embedded server fsync every write before
	// acknowledging it.
	SyncAlways bool
	// HTTP is the gateway's listen address.
	HTTP     string
	Services Services
	Demo     bool
	Broker   broker.Config
	Gateway  gateway.Config
	Exporter exporter.Config
	Notifier notifier.Config
	Log      zerolog.Logger
	// Out receives what a person starting the service reads (the demo key).
	Out io.Writer
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.NATSURL == "" && c.DataDir == "" {
		errs = append(errs, errors.New("either --nats-url or --data is required"))
	}
	if c.Services.Gateway && c.HTTP == "" {
		errs = append(errs, errors.New("the gateway needs an --http address"))
	}
	if c.Demo && !c.Services.Gateway {
		errs = append(errs, errors.New("--demo needs the gateway"))
	}
	if err := c.Broker.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Services.Gateway {
		if err := c.Gateway.Validate(); err != nil {
			errs = append(errs, err)
		}
		ttl := c.Gateway.URLTTL
		if ttl == 0 {
			ttl = time.Hour
		}
		if c.Broker.Retention != 0 && c.Broker.Retention < ttl {
			errs = append(errs, fmt.Errorf("--retention %s is shorter than --url-ttl %s: a download URL would outlive its files", c.Broker.Retention, ttl))
		}
	}
	if c.Services.Exporter {
		if err := c.Exporter.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Services.Notifier {
		if err := c.Notifier.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// System is a running jetexport process.
type System struct {
	// HTTPURL is the gateway's base URL, NATSURL where clients reach NATS.
	HTTPURL string
	NATSURL string
	// DemoKey is the API key --demo made.
	DemoKey string
	Assets  *broker.Assets

	srv    *natsserver.Server
	nc     *nats.Conn
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
	log    zerolog.Logger
	// restartAfter is the first pause before a failed service is started
	// again (see supervise); it doubles up to maxRestartAfter.
	restartAfter time.Duration
}

// maxRestartAfter bounds the pause before a failed service starts again.
const maxRestartAfter = 30 * time.Second

// Start starts the system; it runs until ctx is done or Stop is called.
func Start(ctx context.Context, cfg Config) (*System, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	s := &System{log: cfg.Log, restartAfter: time.Second}
	url := cfg.NATSURL
	var opts []nats.Option
	if url == "" {
		srv, err := natsserver.Start(natsserver.Config{Listen: cfg.NATSListen, StoreDir: cfg.DataDir,
			SyncAlways: cfg.SyncAlways, Name: "jetexport"})
		if err != nil {
			return nil, err
		}
		s.srv = srv
		url = srv.ClientURL()
		if cfg.NATSListen == "" {
			opts = append(opts, nats.InProcessServer(srv.InProcess()))
		}
	}
	s.NATSURL = url
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	nc, js, err := broker.Connect(cctx, url, "jetexport", opts...)
	if err != nil {
		s.shutdownServer()
		return nil, err
	}
	s.nc = nc
	if s.Assets, err = broker.Setup(cctx, js, cfg.Broker); err != nil {
		s.close()
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	s.cancel = stop
	if err := s.startServices(runCtx, cfg); err != nil {
		stop()
		s.wg.Wait()
		s.close()
		return nil, err
	}
	if cfg.Demo {
		if err := s.demo(cctx, cfg.Out); err != nil {
			stop()
			s.wg.Wait()
			s.close()
			return nil, fmt.Errorf("demo: %w", err)
		}
	}
	return s, nil
}

func (s *System) startServices(ctx context.Context, cfg Config) error {
	log := cfg.Log
	// The system lives until ctx ends, even with no service (a NATS-only
	// process).
	s.wg.Go(func() { <-ctx.Done() })
	if cfg.Services.Projector {
		p, err := projector.New(projector.Config{}, projector.Deps{JS: s.Assets.JS, KV: s.Assets.Jobs,
			Log: log.With().Str("service", "projector").Logger()})
		if err != nil {
			return err
		}
		s.supervise(ctx, "projector", p.Run)
	}
	if cfg.Services.Exporter {
		x, err := exporter.New(cfg.Exporter, exporter.Deps{Assets: s.Assets,
			Log: log.With().Str("service", "exporter").Logger()})
		if err != nil {
			return err
		}
		s.supervise(ctx, "exporter", x.Run)
	}
	if cfg.Services.Gateway {
		ln, err := net.Listen("tcp", cfg.HTTP)
		if err != nil {
			return fmt.Errorf("gateway listen %s: %w", cfg.HTTP, err)
		}
		s.HTTPURL = "http://" + ln.Addr().String()
		gcfg := cfg.Gateway
		if gcfg.PublicURL == "" && !ln.Addr().(*net.TCPAddr).IP.IsUnspecified() {
			// Listening on one address: links name it. On 0.0.0.0 or ::
			// the gateway takes the host from each request instead.
			gcfg.PublicURL = s.HTTPURL
		}
		g, err := gateway.New(gcfg, gateway.Deps{Assets: s.Assets,
			Records: fhirstore.New(s.Assets.FHIR, s.Assets.JS, time.Now),
			Log:     log.With().Str("service", "gateway").Logger(), Now: time.Now})
		if err != nil {
			ln.Close()
			return err
		}
		s.run(ctx, "gateway", func(ctx context.Context) error { return g.Serve(ctx, ln) })
	}
	if cfg.Services.Notifier {
		ncfg := cfg.Notifier
		if ncfg.PublicURL == "" {
			ncfg.PublicURL = cmp.Or(cfg.Gateway.PublicURL, s.HTTPURL)
		}
		n, err := notifier.New(ncfg, notifier.Deps{Assets: s.Assets,
			Log: log.With().Str("service", "notifier").Logger()})
		if err != nil {
			return err
		}
		s.supervise(ctx, "notifier", n.Run)
	}
	return nil
}

// supervise runs a service that works from JetStream consumers (projector,
// exporter, notifier) until ctx ends. When it fails, typically because it
// could not create or reach its consumer while the NATS cluster elects
// leaders (a process started with the cluster, or just after a restart of
// every node), it is logged and started again after a pause that doubles up
// to maxRestartAfter: the process comes up once the cluster has, instead of
// exiting.
func (s *System) supervise(ctx context.Context, name string, fn func(context.Context) error) {
	s.wg.Go(func() {
		for pause := s.restartAfter; ; pause = min(2*pause, maxRestartAfter) {
			err := fn(ctx)
			if err == nil || ctx.Err() != nil {
				return
			}
			s.log.Error().Err(err).Str("service", name).Dur("restart_in", pause).Msg("service failed; starting it again")
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
		}
	})
}

// run runs one service that cannot be started again (the gateway's HTTP
// server owns its listener); if it fails, it stops the whole system.
func (s *System) run(ctx context.Context, name string, fn func(context.Context) error) {
	s.wg.Go(func() {
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			s.mu.Lock()
			if s.err == nil {
				s.err = fmt.Errorf("%s: %w", name, err)
			}
			s.mu.Unlock()
			s.cancel()
		}
	})
}

// Wait blocks until every service has stopped, then releases the
// connection and the embedded server, and returns the first failure.
func (s *System) Wait() error {
	s.wg.Wait()
	s.close()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Stop stops every service and waits for them.
func (s *System) Stop() error {
	s.cancel()
	return s.Wait()
}

func (s *System) close() {
	if s.nc != nil {
		_ = s.nc.Drain()
		s.nc = nil
	}
	s.shutdownServer()
}

func (s *System) shutdownServer() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv = nil
	}
}
