package gateway

import (
	"errors"
	"fmt"
	"time"

	"github.com/jetexport/jetexport/internal/smart"
)

// FHIRConfig tunes the FHIR Bulk Data door ($export) and its SMART Backend
// Services authorization. Zero fields take the defaults in their comments.
type FHIRConfig struct {
	// RequiresAccessToken makes the manifest's file URLs need the caller's
	// bearer token (or the tenant's x-api-key) besides their signature; the
	// manifest says so in requiresAccessToken. Default false: the signed
	// URL alone works, as the /v1 links do.
	RequiresAccessToken bool
	// MinPollInterval is the least time between two polls of one export's
	// status URL (default 1s); a faster poll is answered 429 with
	// Retry-After. The last poll time is kept in a KV bucket every gateway
	// shares.
	MinPollInterval time.Duration
	// SMART tunes the token endpoint: token lifetime (default 5m), clock
	// skew, JWKS caching.
	SMART smart.Config
}

// DefaultMinPollInterval is the default of [FHIRConfig.MinPollInterval].
const DefaultMinPollInterval = time.Second

func (c FHIRConfig) withDefaults() FHIRConfig {
	if c.MinPollInterval == 0 {
		c.MinPollInterval = DefaultMinPollInterval
	}
	return c
}

func (c FHIRConfig) validate() error {
	var errs []error
	if c.MinPollInterval < 0 || c.MinPollInterval > time.Minute {
		errs = append(errs, fmt.Errorf("FHIR min poll interval %s: want 0 to 1m", c.MinPollInterval))
	}
	if err := c.SMART.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
