package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/internal/apikeys"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/signing"
	"github.com/jetexport/jetexport/internal/smart"
	"github.com/jetexport/jetexport/internal/webhooks"
)

// shutdownTimeout bounds the graceful shutdown of [Gateway.Serve]: open
// downloads get this long to finish before their connections are closed.
const shutdownTimeout = 10 * time.Second

// Deps are what a [Gateway] works with.
type Deps struct {
	// Assets are the JetStream assets; required.
	Assets *broker.Assets
	// Records is the clinical record store behind the /fhir endpoints.
	// When nil, the gateway serves no /fhir record endpoints.
	Records RecordStore
	// Log receives one line per failed request (errors at error level,
	// client mistakes at debug level).
	Log zerolog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Gateway is the HTTP front door: it authenticates API keys, publishes
// export requests, answers job status from the projection, serves signed
// downloads from the object store and the FHIR record endpoints. Create it
// with [New] and run it with [Gateway.Serve].
type Gateway struct {
	cfg     Config
	assets  *broker.Assets
	records RecordStore
	log     zerolog.Logger
	now     func() time.Time
	keys    *apikeys.Keys
	signer  *signing.Signer
	limiter *limiter
	app     *fiber.App
	// webhooks keeps the tenants' webhook subscriptions.
	webhooks *webhooks.Store
	// smart issues and checks SMART access tokens; bulk keeps the FHIR
	// door's per-export state (polls, deletion, warnings).
	smart *smart.Server
	bulk  *bulkJobs
}

// New builds a gateway: its API keys and signing keys live in the buckets
// of deps.Assets, loaded (the signing key created if need be) here.
func New(cfg Config, deps Deps) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	if deps.Assets == nil {
		return nil, errors.New("gateway: no JetStream assets")
	}
	cfg = cfg.withDefaults()
	if deps.Now == nil {
		deps.Now = time.Now
	}
	g := &Gateway{cfg: cfg, assets: deps.Assets, records: deps.Records, log: deps.Log, now: deps.Now,
		keys: apikeys.New(deps.Assets.APIKeys, deps.Now), limiter: newLimiter(cfg.RateLimit, cfg.RateWindow),
		webhooks: webhooks.NewStore(deps.Assets.Webhooks, webhooks.StoreConfig{Policy: cfg.WebhookPolicy})}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	signer, err := signing.New(ctx, deps.Assets.Signing, deps.Now)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.signer = signer
	if err := g.setupFHIR(ctx); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.app = fiber.New(fiber.Config{
		AppName:               "jetexport",
		DisableStartupMessage: true,
		ErrorHandler:          g.handleError,
		BodyLimit:             max(cfg.ExportBodyLimit, cfg.FHIRBodyLimit),
		JSONEncoder:           marshal,
		ReadTimeout:           time.Minute,
		IdleTimeout:           2 * time.Minute,
	})
	g.routes()
	return g, nil
}

// Serve answers HTTP requests on ln until ctx is done, then shuts down
// gracefully: it stops accepting, lets requests in flight finish for up to
// 10 seconds, and returns. It returns nil after a shutdown caused by ctx.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	done := make(chan error, 1)
	go func() { done <- g.app.Listener(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := g.app.ShutdownWithContext(sctx); err != nil {
		return fmt.Errorf("shut down http: %w", err)
	}
	<-done
	return nil
}
