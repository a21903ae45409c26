package notifier

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string
	}{
		{name: "zero value is valid", cfg: Config{}},
		{name: "short schedule", cfg: Config{Schedule: []time.Duration{time.Millisecond}, MaxRetryAge: time.Second, Timeout: time.Second}},
		{name: "everything wrong at once",
			cfg: Config{PublicURL: "export.example.com", Timeout: -1, MaxRetryAge: -1, Schedule: []time.Duration{time.Second, 0},
				MaxConcurrent: 1000, MaxPerEndpoint: -2, MaxPending: -1, LinkTTL: -1, MaxResponseBytes: -1},
			wantErr: []string{"public url", "timeout", "max retry age", "schedule[1]", "max concurrent", "max per endpoint",
				"max pending", "link ttl", "max response bytes"}},
		{name: "per endpoint above overall", cfg: Config{MaxConcurrent: 2, MaxPerEndpoint: 3}, wantErr: []string{"max per endpoint 3"}},
		{name: "timeout too long", cfg: Config{Timeout: time.Hour}, wantErr: []string{"timeout 1h0m0s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate = nil")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v, missing %q", err, w)
				}
			}
		})
	}
}

func TestNextWait(t *testing.T) {
	n := &Notifier{cfg: Config{}.withDefaults()}
	tests := []struct {
		name       string
		attempt    int
		retryAfter time.Duration
		base       time.Duration
	}{
		{name: "after the first attempt", attempt: 1, base: 5 * time.Second},
		{name: "after the second", attempt: 2, base: 30 * time.Second},
		{name: "after the third", attempt: 3, base: 2 * time.Minute},
		{name: "after the fourth", attempt: 4, base: 10 * time.Minute},
		{name: "after the fifth", attempt: 5, base: time.Hour},
		{name: "then hourly", attempt: 9, base: time.Hour},
		{name: "a longer Retry-After wins", attempt: 1, retryAfter: 3 * time.Minute, base: 3 * time.Minute},
		{name: "Retry-After is capped at the longest wait", attempt: 1, retryAfter: 48 * time.Hour, base: time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 50 {
				got := n.nextWait(tc.attempt, tc.retryAfter)
				lo, hi := tc.base*8/10, tc.base*12/10
				if tc.retryAfter > 0 {
					lo = tc.base
				}
				if got < lo || got > hi {
					t.Fatalf("nextWait(%d, %s) = %s, want %s to %s", tc.attempt, tc.retryAfter, got, lo, hi)
				}
			}
		})
	}
}

func TestEndpointOf(t *testing.T) {
	tests := []struct{ name, url, want string }{
		{name: "host and port", url: "https://Hooks.Example.com:8443/a?b", want: "https://hooks.example.com:8443"},
		{name: "paths share the endpoint", url: "https://hooks.example.com/other", want: "https://hooks.example.com"},
		{name: "unparsable", url: "%zz", want: "%zz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := endpointOf(tc.url); got != tc.want {
				t.Fatalf("endpointOf(%q) = %q, want %q", tc.url, got, tc.want)
			}
		})
	}
}

// FuzzRetryAfter: Retry-After comes from receivers; parsing it must not
// panic or give a negative wait.
func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, s := range []string{"", "120", "-5", "0", "99999999999999999999", now.Add(time.Hour).Format(http.TimeFormat), "Wed, 21 Oct 2015 07:28:00 GMT", "soon"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if d := retryAfter(v, now); d < 0 {
			t.Fatalf("retryAfter(%q) = %s", v, d)
		}
	})
}
