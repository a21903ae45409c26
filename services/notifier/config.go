package notifier

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/internal/broker"
)

// Config tunes the notifier. The zero value is completed with the defaults
// documented on each field, in [Config.withDefaults].
type Config struct {
	// PublicURL is the gateway's base URL, under which the signed download
	// links in a payload are made (default http://127.0.0.1:8080).
	PublicURL string
	// Timeout bounds one delivery attempt, connection to last response
	// byte (default 10s).
	Timeout time.Duration
	// MaxRetryAge is how long after the job event a delivery is retried
	// before it is marked failed (default 24h).
	MaxRetryAge time.Duration
	// Schedule is the wait after each failed attempt, the last one
	// repeating (default 5s, 30s, 2m, 10m, 1h, then hourly). Each wait is
	// jittered by up to 20% either way.
	Schedule []time.Duration
	// AllowPrivate lets webhooks reach loopback, private and link-local
	// addresses: for local development and tests, never in production.
	AllowPrivate bool
	// MaxConcurrent bounds the deliveries in flight in this process
	// (default 32, at most 256).
	MaxConcurrent int
	// MaxPerEndpoint bounds the deliveries in flight to one endpoint
	// (scheme, host and port) in this process (default 4).
	MaxPerEndpoint int
	// MaxPending bounds the deliveries waiting for a later attempt across
	// all replicas (default 100,000): past it, new deliveries wait until
	// some are done.
	MaxPending int
	// LinkTTL is how long the download URLs in a payload are valid
	// (default 1h).
	LinkTTL time.Duration
	// MaxResponseBytes caps how much of a receiver's answer is read
	// (default 64 KiB); the rest is discarded unread.
	MaxResponseBytes int64
}

// DefaultSchedule is the retry schedule used when Config leaves it empty.
func DefaultSchedule() []time.Duration {
	return []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour}
}

func (c Config) withDefaults() Config {
	if c.PublicURL == "" {
		c.PublicURL = "http://127.0.0.1:8080"
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxRetryAge == 0 {
		c.MaxRetryAge = 24 * time.Hour
	}
	if len(c.Schedule) == 0 {
		c.Schedule = DefaultSchedule()
	} else {
		c.Schedule = slices.Clone(c.Schedule)
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = 32
	}
	if c.MaxPerEndpoint == 0 {
		c.MaxPerEndpoint = min(4, c.MaxConcurrent)
	}
	if c.MaxPending == 0 {
		c.MaxPending = 100_000
	}
	if c.LinkTTL == 0 {
		c.LinkTTL = time.Hour
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = 64 << 10
	}
	return c
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("public url %q: want an absolute http(s) URL such as https://export.example.com", c.PublicURL))
	}
	if c.Timeout < 0 || c.Timeout > 5*time.Minute {
		errs = append(errs, fmt.Errorf("timeout %s: want more than 0 and at most 5m", c.Timeout))
	}
	if c.MaxRetryAge < 0 {
		errs = append(errs, fmt.Errorf("max retry age %s: must not be negative", c.MaxRetryAge))
	}
	for i, d := range c.Schedule {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("schedule[%d] %s: every wait must be positive", i, d))
		}
	}
	if c.MaxConcurrent < 1 || c.MaxConcurrent > 256 {
		errs = append(errs, fmt.Errorf("max concurrent %d: want 1 to 256", c.MaxConcurrent))
	}
	if c.MaxPerEndpoint < 1 || c.MaxPerEndpoint > c.MaxConcurrent {
		errs = append(errs, fmt.Errorf("max per endpoint %d: want 1 to max concurrent (%d)", c.MaxPerEndpoint, c.MaxConcurrent))
	}
	if c.MaxPending < 1 {
		errs = append(errs, fmt.Errorf("max pending %d: must be positive", c.MaxPending))
	}
	if c.LinkTTL < 0 {
		errs = append(errs, fmt.Errorf("link ttl %s: must not be negative", c.LinkTTL))
	}
	if c.MaxResponseBytes < 0 {
		errs = append(errs, fmt.Errorf("max response bytes %d: must not be negative", c.MaxResponseBytes))
	}
	return errors.Join(errs...)
}

// Deps are what a notifier works with.
type Deps struct {
	// Assets are the JetStream assets from broker.Setup.
	Assets *broker.Assets
	// Log receives one line per attempt and every problem.
	Log zerolog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}
