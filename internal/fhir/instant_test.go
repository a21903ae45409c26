package fhir

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseInstant(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	tests := []struct {
		name string
		in   string
		want time.Time
	}{
		{"seed since", "2025-01-01T00:00:00Z", utc(2025, 1, 1, 0, 0, 0, 0)},
		{"offset", "2025-01-01T02:00:00+02:00", utc(2025, 1, 1, 0, 0, 0, 0)},
		{"negative offset", "2024-12-31T19:00:00-05:00", utc(2025, 1, 1, 0, 0, 0, 0)},
		{"milliseconds", "2025-01-01T00:00:00.123Z", utc(2025, 1, 1, 0, 0, 0, 123e6)},
		{"nanoseconds", "2025-01-01T00:00:00.123456789Z", utc(2025, 1, 1, 0, 0, 0, 123456789)},
		{"minutes only", "2025-01-01T10:30Z", utc(2025, 1, 1, 10, 30, 0, 0)},
		{"date", "2025-03-04", utc(2025, 3, 4, 0, 0, 0, 0)},
		{"month", "2025-03", utc(2025, 3, 1, 0, 0, 0, 0)},
		{"year", "2025", utc(2025, 1, 1, 0, 0, 0, 0)},
		{"leap day", "2024-02-29", utc(2024, 2, 29, 0, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInstant(tt.in)
			if err != nil {
				t.Fatalf("ParseInstant(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("ParseInstant(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseInstantErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		hint string // the message must say this
	}{
		{"empty", "", "ISO 8601"},
		{"no zone", "2025-01-01T00:00:00", "zone"},
		{"words", "yesterday", "2025-01-01T00:00:00Z"},
		{"bad month", "2025-13", "ISO 8601"},
		{"bad day", "2025-02-30", "ISO 8601"},
		{"not a leap year", "2025-02-29", "ISO 8601"},
		{"short date with time", "2025-1-1T00:00:00Z", "YYYY-MM-DD"},
		{"hour 25", "2025-01-01T25:00:00Z", "ISO 8601"},
		{"offset without colon", "2025-01-01T00:00:00+0200", "zone"},
		{"slashes", "2025/01/01", "ISO 8601"},
		{"unix time", "1735689600", "ISO 8601"},
		{"too long", strings.Repeat("2", 100), "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseInstant(tt.in)
			if !errors.Is(err, ErrInstant) {
				t.Fatalf("ParseInstant(%q) error = %v, want ErrInstant", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.hint) {
				t.Errorf("error %q does not say %q", err, tt.hint)
			}
		})
	}
}
