package fhir

import (
	"math"
	"time"
)

// dateRange is the period a FHIR date, dateTime, instant or Period stands
// for, as [lo, hi) in microseconds since 1970 UTC: "2020" is the whole
// year, "2020-03-01T10:00:00Z" one second, a Period without an end is open
// above. Search compares ranges, never points (FHIR search, "date").
type dateRange struct{ lo, hi int64 }

// Open ends of a range.
const (
	minTime int64 = math.MinInt64
	maxTime int64 = math.MaxInt64
)

// parseDateRange parses YYYY, YYYY-MM, YYYY-MM-DD, and YYYY-MM-DDThh:mm,
// YYYY-MM-DDThh:mm:ss and YYYY-MM-DDThh:mm:ss.fff... with an optional zone
// ("Z" or ±hh:mm). A date or time without a zone is taken as UTC (FHIR says
// the server's zone; this server's is UTC). It is written by hand because
// it runs for every date a filter reads, on every record.
func parseDateRange(s string) (dateRange, bool) {
	n := len(s)
	num := func(i, w int) (int, bool) {
		if i+w > n {
			return 0, false
		}
		v := 0
		for j := i; j < i+w; j++ {
			c := s[j]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok := num(0, 4)
	if !ok {
		return dateRange{}, false
	}
	if n == 4 {
		return span(time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(year+1, 1, 1, 0, 0, 0, 0, time.UTC)), true
	}
	month, ok := num(5, 2)
	if !ok || s[4] != '-' || month < 1 || month > 12 {
		return dateRange{}, false
	}
	if n == 7 {
		return span(time.Date(year, time.Month(month), 1, 0, 0, 0, 0, time.UTC), time.Date(year, time.Month(month)+1, 1, 0, 0, 0, 0, time.UTC)), true
	}
	day, ok := num(8, 2)
	if !ok || s[7] != '-' || day < 1 || day > daysIn(year, month) {
		return dateRange{}, false
	}
	if n == 10 {
		d := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
		return span(d, d.AddDate(0, 0, 1)), true
	}
	if s[10] != 'T' {
		return dateRange{}, false
	}
	hour, ok1 := num(11, 2)
	minute, ok2 := num(14, 2)
	if !ok1 || !ok2 || s[13] != ':' || hour > 23 || minute > 59 {
		return dateRange{}, false
	}
	i, sec, nanos := 16, 0, 0
	width := time.Minute
	if i < n && s[i] == ':' {
		if sec, ok = num(i+1, 2); !ok || sec > 60 {
			return dateRange{}, false
		}
		i += 3
		width = time.Second
		if i < n && s[i] == '.' {
			j := i + 1
			for j < n && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			digits := j - i - 1
			if digits == 0 || digits > 9 {
				return dateRange{}, false
			}
			frac, _ := num(i+1, digits)
			width = time.Second
			for k := 0; k < digits; k++ {
				width /= 10
			}
			nanos = frac * int(width)
			i = j
		}
	}
	zone := time.UTC
	switch {
	case i == n:
	case s[i] == 'Z' && i+1 == n:
	case (s[i] == '+' || s[i] == '-') && i+6 == n && s[i+3] == ':':
		zh, ok1 := num(i+1, 2)
		zm, ok2 := num(i+4, 2)
		if !ok1 || !ok2 || zh > 14 || zm > 59 {
			return dateRange{}, false
		}
		off := zh*3600 + zm*60
		if s[i] == '-' {
			off = -off
		}
		zone = time.FixedZone("", off)
	default:
		return dateRange{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, zone)
	return span(t, t.Add(width)), true
}

// span makes the range [from, to).
func span(from, to time.Time) dateRange { return dateRange{lo: from.UnixMicro(), hi: to.UnixMicro()} }

// daysIn returns the number of days of a month.
func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// valueRange returns the range of a date-like JSON value: a string (date,
// dateTime, instant), a Period {start, end}, or a Timing's bounds. A value
// that is none of these gives false.
func valueRange(v []byte) (dateRange, bool) {
	if len(v) == 0 {
		return dateRange{}, false
	}
	if v[0] == '"' {
		s, _ := stringValue(v)
		return parseDateRange(s)
	}
	if v[0] != '{' {
		return dateRange{}, false
	}
	if b := memberValue(memberValue(v, "repeat"), "boundsPeriod"); b != nil {
		v = b // a Timing: its bounds
	}
	start, end := memberValue(v, "start"), memberValue(v, "end")
	if start == nil && end == nil {
		return dateRange{}, false
	}
	r := dateRange{lo: minTime, hi: maxTime}
	if start != nil {
		s, ok := valueRange(start)
		if !ok {
			return dateRange{}, false
		}
		r.lo = s.lo
	}
	if end != nil {
		e, ok := valueRange(end)
		if !ok {
			return dateRange{}, false
		}
		r.hi = e.hi
	}
	return r, true
}
