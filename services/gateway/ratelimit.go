package gateway

import (
	"sync"
	"time"
)

// limiter counts requests per API key in fixed windows aligned to the
// clock (every key's window restarts at the same instants). The counts are
// in this process's memory: each gateway replica allows the full limit, and
// a restart forgets them.
type limiter struct {
	limit  int
	window time.Duration

	mu      sync.Mutex
	start   time.Time // start of the current window
	counted map[string]int
}

// quota is the outcome of one request against the limit.
type quota struct {
	limit, remaining int
	reset            time.Time
	allowed          bool
}

// retryAfter returns the seconds until the window restarts, at least 1.
func (q quota) retryAfter(now time.Time) int {
	s := int((q.reset.Sub(now) + time.Second - 1) / time.Second)
	return max(s, 1)
}

func newLimiter(limit int, window time.Duration) *limiter {
	return &limiter{limit: limit, window: window, counted: map[string]int{}}
}

// take counts one request by key at now.
func (l *limiter) take(key string, now time.Time) quota {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := now.Truncate(l.window)
	if !start.Equal(l.start) {
		// A new window: every count starts over, and keys idle since are forgotten.
		l.start, l.counted = start, map[string]int{}
	}
	q := quota{limit: l.limit, reset: start.Add(l.window)}
	n := l.counted[key]
	if n >= l.limit {
		return q
	}
	n++
	l.counted[key] = n
	q.remaining, q.allowed = l.limit-n, true
	return q
}
