package loader

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Config configures a [Loader]. Zero fields take the defaults listed.
type Config struct {
	// URL is the gateway's base URL, for example http://127.0.0.1:8080.
	URL string
	// Key is the API key sent as x-api-key (clk_test_... or clk_live_...).
	Key string
	// Concurrency is the number of requests in flight (default 4).
	Concurrency int
	// BatchSize is the number of entries in each batch Bundle made from
	// NDJSON lines or synthetic resources (default 500).
	BatchSize int
	// MaxBatchBytes sends a batch early once its body reaches this size
	// (default 8 MiB), so that large resources do not make huge requests.
	MaxBatchBytes int
	// MaxBodyBytes is the largest body the gateway accepts on /fhir
	// (default 32 MiB): a bigger file is reported as an error, not sent.
	MaxBodyBytes int64
	// Retries is how many times a request answered 429 or 503, or lost to
	// a network error after the gateway was first reached, is tried again
	// (default 5; -1 for never).
	Retries int
	// RetryWait is the first backoff when the server gives no Retry-After
	// (default 500ms); it doubles on each retry up to MaxRetryWait.
	RetryWait time.Duration
	// MaxRetryWait caps a backoff and a Retry-After (default 30s).
	MaxRetryWait time.Duration
	// Timeout bounds one request to the gateway, with its retries and its
	// answer (default 5m). Downloads of export files are not bounded by it.
	Timeout time.Duration
	// MaxErrors is how many error messages [Stats.Errors] keeps (default
	// 100); [Stats.Failed] counts every failed resource regardless.
	MaxErrors int
	// HTTPClient sends the requests; by default a client whose transport
	// keeps Concurrency connections open to the gateway.
	HTTPClient *http.Client
}

// Defaults of [Config].
const (
	DefaultConcurrency   = 4
	DefaultBatchSize     = 500
	DefaultMaxBatchBytes = 8 << 20
	DefaultMaxBodyBytes  = 32 << 20
	DefaultRetries       = 5
	DefaultRetryWait     = 500 * time.Millisecond
	DefaultMaxRetryWait  = 30 * time.Second
	DefaultTimeout       = 5 * time.Minute
	DefaultMaxErrors     = 100
)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	if c.RetryWait == 0 {
		c.RetryWait = DefaultRetryWait
	}
	if c.MaxRetryWait == 0 {
		c.MaxRetryWait = DefaultMaxRetryWait
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxErrors == 0 {
		c.MaxErrors = DefaultMaxErrors
	}
	if c.HTTPClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = c.Concurrency * 2
		c.HTTPClient = &http.Client{Transport: t}
	}
	return c
}

// ErrNoKey is returned by [New] when [Config.Key] is empty.
var ErrNoKey = errors.New("no API key: pass --key or set JETEXPORT_KEY (create one with `jetexport keys create --tenant NAME`)")

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("URL is required"))
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("URL %q is not an http(s) URL with a host, like http://127.0.0.1:8080", c.URL))
	}
	if c.Key == "" {
		errs = append(errs, ErrNoKey)
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency %d: must be at least 1", c.Concurrency))
	}
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("batch size %d: must be at least 1", c.BatchSize))
	}
	if c.MaxBatchBytes < 1 || int64(c.MaxBatchBytes) > c.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("max batch bytes %d: must be between 1 and the max body size %d", c.MaxBatchBytes, c.MaxBodyBytes))
	}
	if c.Retries < -1 {
		errs = append(errs, fmt.Errorf("retries %d: must be -1 (never) or more", c.Retries))
	}
	if c.RetryWait < 0 || c.MaxRetryWait < c.RetryWait {
		errs = append(errs, fmt.Errorf("retry wait %v and max retry wait %v: need 0 <= wait <= max", c.RetryWait, c.MaxRetryWait))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout %v: must be positive", c.Timeout))
	}
	if c.MaxErrors < 1 {
		errs = append(errs, fmt.Errorf("max errors %d: must be at least 1", c.MaxErrors))
	}
	return errors.Join(errs...)
}
