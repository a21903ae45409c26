package notifier

import (
	"net/url"
	"strings"
	"sync"
)

// limiter bounds the deliveries in flight to each endpoint. It never
// blocks: a delivery whose endpoint is full is handed back to JetStream for
// later, so it holds no worker while it waits.
type limiter struct {
	max int

	mu       sync.Mutex
	inFlight map[string]int
}

func newLimiter(max int) *limiter { return &limiter{max: max, inFlight: map[string]int{}} }

// acquire takes a slot for endpoint and reports whether one was free.
func (l *limiter) acquire(endpoint string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inFlight[endpoint] >= l.max {
		return false
	}
	l.inFlight[endpoint]++
	return true
}

// release gives back a slot taken by acquire.
func (l *limiter) release(endpoint string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inFlight[endpoint] <= 1 {
		delete(l.inFlight, endpoint)
		return
	}
	l.inFlight[endpoint]--
}

// endpointOf returns what deliveries are limited by: scheme, host and port.
func endpointOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + strings.ToLower(u.Host)
}
