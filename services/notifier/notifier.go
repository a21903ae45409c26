package notifier

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/signing"
	"github.com/jetexport/jetexport/internal/webhooks"
)

// opTimeout bounds one JetStream call made while handling a message.
const opTimeout = 10 * time.Second

// linker makes the signed download links of a completed job.
type linker interface {
	JobLinks(baseURL string, job events.Job, ttl time.Duration) signing.Links
}

// Notifier delivers webhooks; see the package documentation. Run it in as
// many processes as you like: they share the work.
type Notifier struct {
	cfg     Config
	assets  *broker.Assets
	log     zerolog.Logger
	now     func() time.Time
	store   *webhooks.Store
	policy  webhooks.Policy
	client  *http.Client
	limiter *limiter
}

// New checks cfg and returns a notifier; it does no I/O until [Notifier.Run].
func New(cfg Config, deps Deps) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("notifier config: %w", err)
	}
	if deps.Assets == nil {
		return nil, errors.New("notifier: no JetStream assets")
	}
	cfg = cfg.withDefaults()
	if deps.Now == nil {
		deps.Now = time.Now
	}
	policy := webhooks.Policy{AllowPrivate: cfg.AllowPrivate}
	return &Notifier{
		cfg: cfg, assets: deps.Assets, log: deps.Log, now: deps.Now, policy: policy,
		store:   webhooks.NewStore(deps.Assets.Webhooks, webhooks.StoreConfig{Policy: policy, Now: deps.Now}),
		client:  policy.Client(cfg.Timeout),
		limiter: newLimiter(cfg.MaxPerEndpoint),
	}, nil
}

// Run fans job events out to deliveries and makes delivery attempts until
// ctx is done, then lets the attempts in flight finish (each bounded by
// Config.Timeout) and returns nil. It returns an error only when it cannot
// start: the work-queue stream, the consumers or the signing key cannot be
// set up.
func (n *Notifier) Run(ctx context.Context) error {
	signer, err := signing.New(ctx, n.assets.Signing, n.now)
	if err != nil {
		return fmt.Errorf("notifier: %w", err)
	}
	evs, deliveries, err := n.setup(ctx)
	if err != nil {
		return fmt.Errorf("notifier: %w", err)
	}
	n.log.Info().Int("max_concurrent", n.cfg.MaxConcurrent).Int("max_per_endpoint", n.cfg.MaxPerEndpoint).
		Str("public_url", n.cfg.PublicURL).Bool("allow_private", n.cfg.AllowPrivate).Msg("notifier running")
	var wg sync.WaitGroup
	wg.Go(func() { n.loop(ctx, evs, n.fanout) })
	for range n.cfg.MaxConcurrent {
		wg.Go(func() {
			n.loop(ctx, deliveries, func(ctx context.Context, msg jetstream.Msg) { n.deliver(ctx, msg, signer) })
		})
	}
	wg.Wait()
	n.log.Info().Msg("notifier stopped")
	return nil
}

// loop takes one message at a time from c and handles it, until ctx is
// done. A message being handled is finished even after ctx is done, so that
// its outcome is recorded and it is acknowledged.
func (n *Notifier) loop(ctx context.Context, c jetstream.Consumer, handle func(context.Context, jetstream.Msg)) {
	for ctx.Err() == nil {
		msg, err := c.Next(jetstream.FetchContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) {
				continue
			}
			n.log.Warn().Err(err).Str("consumer", c.CachedInfo().Name).Msg("fetch failed; retrying")
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		handle(context.WithoutCancel(ctx), msg)
	}
}

// jitter spreads d by up to 20% either way, so that deliveries that failed
// together do not all come back at once.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// nak hands msg back for another try after about d, logging if even that fails.
func (n *Notifier) nak(msg jetstream.Msg, d time.Duration) {
	if err := msg.NakWithDelay(jitter(d)); err != nil {
		n.log.Warn().Err(err).Str("subject", msg.Subject()).Msg("nak failed; the message returns after its ack wait")
	}
}
