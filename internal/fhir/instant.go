package fhir

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInstant is wrapped by every error of [ParseInstant].
var ErrInstant = errors.New("invalid date/time")

// instantHelp tells a client which forms [ParseInstant] takes.
const instantHelp = "want ISO 8601 such as 2025-01-01T00:00:00Z, 2025-01-01T00:00:00.123+02:00, 2025-01-01, 2025-01 or 2025"

// ParseInstant parses a FHIR instant or dateTime (ISO 8601): a date and time
// with seconds, optional fractional seconds and a zone ("Z" or ±hh:mm), a
// date and time to the minute with a zone, or a partial date ("2025-01-01",
// "2025-01", "2025") which stands for the start of that day, month or year
// in UTC. A time without a zone is rejected: FHIR requires one, and guessing
// the server's zone would shift the result by hours.
func ParseInstant(s string) (time.Time, error) {
	if len(s) > 64 {
		return time.Time{}, fmt.Errorf("%w: %d characters is too long for a date/time: %s", ErrInstant, len(s), instantHelp)
	}
	date, clock, hasTime := strings.Cut(s, "T")
	if !hasTime {
		return parseDate(s)
	}
	if _, err := parseDate(date); err != nil || len(date) != len("2006-01-02") {
		return time.Time{}, fmt.Errorf("%w %q: the date before 'T' must be YYYY-MM-DD: %s", ErrInstant, s, instantHelp)
	}
	if !hasZone(clock) {
		return time.Time{}, fmt.Errorf("%w %q: a time needs a zone, 'Z' or an offset such as +02:00: %s", ErrInstant, s, instantHelp)
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w %q: %s", ErrInstant, s, instantHelp)
}

// hasZone reports whether the time part of a dateTime ends in a zone.
func hasZone(clock string) bool {
	if strings.HasSuffix(clock, "Z") {
		return true
	}
	if len(clock) < 6 {
		return false
	}
	z := clock[len(clock)-6:]
	return (z[0] == '+' || z[0] == '-') && z[3] == ':'
}

// parseDate parses the partial dates YYYY, YYYY-MM and YYYY-MM-DD as the
// start of the period in UTC.
func parseDate(s string) (time.Time, error) {
	var layout string
	switch len(s) {
	case 4:
		layout = "2006"
	case 7:
		layout = "2006-01"
	case 10:
		layout = "2006-01-02"
	default:
		return time.Time{}, fmt.Errorf("%w %q: %s", ErrInstant, s, instantHelp)
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w %q: %s", ErrInstant, s, instantHelp)
	}
	return t, nil
}
