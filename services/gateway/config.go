package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jetexport/jetexport/internal/webhooks"
)

// Config tunes a [Gateway]. Zero fields take the defaults given in their
// comments; [Config.Validate] reports every problem at once.
type Config struct {
	// PublicURL is the scheme and host download links start with, such as
	// "http://127.0.0.1:8080"; empty means the scheme and Host of the request
	// that asked for them.
	PublicURL string
	// RateLimit is how many requests one API key may make per RateWindow
	// (default 120). The count is kept in memory by each gateway process.
	RateLimit int
	// RateWindow is the fixed window the limit counts over (default 1m).
	RateWindow time.Duration
	// ExportBodyLimit caps /v1 request bodies (default 1 MiB); a larger one
	// is answered 413.
	ExportBodyLimit int
	// FHIRBodyLimit caps /fhir request bodies (default 32 MiB: Synthea
	// Bundles reach 4 MB); a larger one is answered 413.
	FHIRBodyLimit int
	// URLTTL is how long a signed download URL works (default 1h).
	URLTTL time.Duration
	// PublishTimeout bounds the wait for JetStream to acknowledge an event
	// (default 5s); without an ack the request is answered 503.
	PublishTimeout time.Duration
	// WebhookPolicy decides which webhook destinations are allowed (the
	// same operator setting as the notifier's): https only for live
	// tenants, no private or loopback addresses unless AllowPrivate.
	WebhookPolicy webhooks.Policy
	// MaxActiveExports is how many exports one tenant may have pending or
	// processing at once (default 10); a kick-off past it, through either
	// door, is answered 429 with Retry-After. The count is read from the
	// event log every gateway shares, so it holds across replicas.
	MaxActiveExports int
	// FHIR tunes the Bulk Data door ($export) and its SMART authorization.
	FHIR FHIRConfig
}

// The defaults of [Config].
const (
	DefaultRateLimit       = 120
	DefaultRateWindow      = time.Minute
	DefaultExportBodyLimit = 1 << 20
	DefaultFHIRBodyLimit   = 32 << 20
	DefaultURLTTL          = time.Hour
	DefaultPublishTimeout  = 5 * time.Second
	// DefaultMaxActiveExports is the per-tenant limit of running exports.
	DefaultMaxActiveExports = 10
)

// readTimeout bounds the KV and stream reads a request makes.
const readTimeout = 5 * time.Second

func (c Config) withDefaults() Config {
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.RateWindow == 0 {
		c.RateWindow = DefaultRateWindow
	}
	if c.ExportBodyLimit == 0 {
		c.ExportBodyLimit = DefaultExportBodyLimit
	}
	if c.FHIRBodyLimit == 0 {
		c.FHIRBodyLimit = DefaultFHIRBodyLimit
	}
	if c.URLTTL == 0 {
		c.URLTTL = DefaultURLTTL
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.MaxActiveExports == 0 {
		c.MaxActiveExports = DefaultMaxActiveExports
	}
	c.FHIR = c.FHIR.withDefaults()
	return c
}

// Validate reports every problem with c at once. Zero fields are valid:
// they take their defaults.
func (c Config) Validate() error {
	var errs []error
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("public URL: %w", err))
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			errs = append(errs, fmt.Errorf("public URL %q: want http(s)://host[:port]", c.PublicURL))
		case u.RawQuery != "" || u.Fragment != "":
			errs = append(errs, fmt.Errorf("public URL %q: must not have a query or fragment", c.PublicURL))
		}
	}
	if c.RateLimit < 0 {
		errs = append(errs, fmt.Errorf("rate limit %d: must not be negative", c.RateLimit))
	}
	if c.RateWindow < 0 || c.RateWindow != 0 && c.RateWindow < time.Second {
		errs = append(errs, fmt.Errorf("rate window %s: want at least 1s", c.RateWindow))
	}
	if c.ExportBodyLimit < 0 {
		errs = append(errs, errors.New("export body limit must not be negative"))
	}
	if c.FHIRBodyLimit < 0 {
		errs = append(errs, errors.New("FHIR body limit must not be negative"))
	}
	if c.URLTTL < 0 || c.URLTTL != 0 && c.URLTTL < time.Second {
		errs = append(errs, fmt.Errorf("URL TTL %s: want at least 1s", c.URLTTL))
	}
	if c.PublishTimeout < 0 {
		errs = append(errs, errors.New("publish timeout must not be negative"))
	}
	if c.MaxActiveExports < 0 {
		errs = append(errs, fmt.Errorf("max active exports %d: must not be negative", c.MaxActiveExports))
	}
	if err := c.FHIR.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
