package smart

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Config tunes a [Server]. Zero fields take the defaults in their comments;
// [Config.Validate] reports every problem at once.
type Config struct {
	// TokenTTL is how long an access token works (default 5m, at most
	// [MaxTokenTTL]).
	TokenTTL time.Duration
	// ClockSkew is how far a client's clock may be off when exp, nbf and
	// iat are checked (default 1m).
	ClockSkew time.Duration
	// JWKSCacheTTL is how long a key set fetched from a jwks_uri is used
	// before it is fetched again (default 5m). An assertion signed with a
	// kid the cached set lacks makes it fetched again at once.
	JWKSCacheTTL time.Duration
	// JWKSTimeout bounds fetching a jwks_uri (default 5s).
	JWKSTimeout time.Duration
}

// The defaults of [Config].
const (
	DefaultTokenTTL     = 5 * time.Minute
	DefaultClockSkew    = time.Minute
	DefaultJWKSCacheTTL = 5 * time.Minute
	DefaultJWKSTimeout  = 5 * time.Second
)

func (c Config) withDefaults() Config {
	if c.TokenTTL == 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = DefaultClockSkew
	}
	if c.JWKSCacheTTL == 0 {
		c.JWKSCacheTTL = DefaultJWKSCacheTTL
	}
	if c.JWKSTimeout == 0 {
		c.JWKSTimeout = DefaultJWKSTimeout
	}
	return c
}

// Validate reports every problem with c at once. Zero fields are valid.
func (c Config) Validate() error {
	var errs []error
	if c.TokenTTL < 0 || c.TokenTTL != 0 && (c.TokenTTL < 10*time.Second || c.TokenTTL > MaxTokenTTL) {
		errs = append(errs, fmt.Errorf("token TTL %s: want 10s to %s", c.TokenTTL, MaxTokenTTL))
	}
	if c.ClockSkew < 0 || c.ClockSkew > 5*time.Minute {
		errs = append(errs, fmt.Errorf("clock skew %s: want 0 to 5m", c.ClockSkew))
	}
	if c.JWKSCacheTTL < 0 {
		errs = append(errs, errors.New("JWKS cache TTL must not be negative"))
	}
	if c.JWKSTimeout < 0 {
		errs = append(errs, errors.New("JWKS timeout must not be negative"))
	}
	return errors.Join(errs...)
}

// Deps are what a [Server] works with.
type Deps struct {
	// Stores are the buckets from [Setup]; required.
	Stores *Stores
	// HTTPClient fetches jwks_uri key sets (a client with JWKSTimeout when
	// nil).
	HTTPClient *http.Client
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}
