package fhir

import (
	"fmt"
	"strings"
	"time"
)

// criterion is one parameter of a query: resources match when a value at
// the parameter's paths matches any of values (or, with :not, none does;
// with :missing, when the parameter has no value or some value).
type criterion struct {
	param    *searchParam
	modifier string
	missing  bool // with modifier "missing": true wants no value
	values   []queryValue
	now      time.Time
}

// queryValue is one comma-separated value of a parameter, parsed for its
// kind.
type queryValue struct {
	// token: system|code. hasSystem tells "|code" (no system) from "code"
	// (any system).
	system, code string
	hasSystem    bool
	// string and :text: the text, folded; uri and :exact: as given.
	text string
	// date
	prefix string
	rng    dateRange
	// reference: type and id (type "" for a bare id), or the value as given
	// when it is not Type/id (a canonical URL).
	refType, refID, raw string
}

// parseValue parses one value v (URL-decoded, FHIR escapes still in).
func (c *criterion) parseValue(v string) (queryValue, error) {
	switch c.param.kind {
	case kindToken:
		parts := splitUnescaped(v, '|')
		if c.modifier == "text" {
			return queryValue{text: fold(unescapeSearch(v))}, nil
		}
		if len(parts) == 1 {
			return queryValue{code: unescapeSearch(v)}, nil
		}
		code := unescapeSearch(strings.Join(parts[1:], "|"))
		return queryValue{system: unescapeSearch(parts[0]), code: code, hasSystem: true}, nil
	case kindString:
		s := unescapeSearch(v)
		if c.modifier == "exact" {
			return queryValue{text: s}, nil
		}
		return queryValue{text: fold(s)}, nil
	case kindURI:
		return queryValue{text: unescapeSearch(v)}, nil
	case kindReference:
		s := unescapeSearch(v)
		qv := queryValue{raw: s}
		if !strings.Contains(s, "/") && ValidID(s) {
			qv.refID = s
		} else {
			qv.refType, qv.refID = SplitReference(s)
		}
		return qv, nil
	case kindDate:
		return parseDateValue(unescapeSearch(v))
	}
	return queryValue{}, fmt.Errorf("%w: parameter kind %s", ErrUnsupported, c.param.kind)
}

// datePrefixes are FHIR search's comparators for dates.
var datePrefixes = []string{"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"}

// parseDateValue parses [prefix]date.
func parseDateValue(v string) (queryValue, error) {
	qv := queryValue{prefix: "eq"}
	if len(v) >= 2 && v[0] >= 'a' && v[0] <= 'z' {
		p := v[:2]
		found := false
		for _, dp := range datePrefixes {
			found = found || dp == p
		}
		if !found {
			return queryValue{}, fmt.Errorf("%w: date prefix %s; use one of eq, ne, gt, lt, ge, le, sa, eb, ap", ErrUnsupported, quoteShort(p))
		}
		qv.prefix, v = p, v[2:]
	}
	r, ok := parseDateRange(v)
	if !ok {
		return queryValue{}, fmt.Errorf("%w: %s is not a date: want YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with an optional zone (Z or +01:00)", ErrTypeFilter, quoteShort(v))
	}
	qv.rng = r
	return qv, nil
}

// match reports whether resource satisfies the criterion.
func (c *criterion) match(resource []byte) bool {
	found := false
	for _, p := range c.param.paths {
		cont := p.each(resource, func(v []byte) bool {
			if p.refType != "" {
				if t, _ := SplitReference(referenceOf(v)); t != p.refType {
					return true
				}
			}
			if c.modifier == "missing" || c.matchValue(v) {
				found = true
				return false
			}
			return true
		})
		if !cont {
			break
		}
	}
	switch c.modifier {
	case "missing":
		return found != c.missing
	case "not":
		return !found
	}
	return found
}

// matchValue reports whether one value of the resource matches any query
// value.
func (c *criterion) matchValue(v []byte) bool {
	for i := range c.values {
		q := &c.values[i]
		var ok bool
		switch c.param.kind {
		case kindToken:
			if c.modifier == "text" {
				ok = tokenText(v, q.text)
			} else {
				ok = tokenMatch(v, q)
			}
		case kindString:
			ok = c.stringMatch(v, q.text)
		case kindDate:
			if r, valid := valueRange(v); valid {
				ok = dateMatch(r, q, c.now)
			}
		case kindReference:
			ok = c.refMatch(v, q)
		case kindURI:
			s, _ := stringValue(v)
			ok = s == q.text || (c.modifier == "below" && strings.HasPrefix(s, q.text))
		}
		if ok {
			return true
		}
	}
	return false
}

// tokenMatch matches a code, Coding, CodeableConcept, Identifier,
// ContactPoint, or a primitive (code, boolean, id) against system|code.
func tokenMatch(v []byte, q *queryValue) bool {
	switch v[0] {
	case '{':
	case '"':
		s, _ := stringValue(v)
		return q.code != "" && s == q.code // a code's system is implicit
	default: // boolean, number
		return q.code != "" && string(v) == q.code
	}
	if codings := memberValue(v, "coding"); codings != nil {
		return !eachElement(codings, func(cd []byte) bool {
			return !codingMatch(memberString(cd, "system"), memberString(cd, "code"), q)
		})
	}
	code := memberString(v, "code")
	if code == "" {
		code = memberString(v, "value") // Identifier, ContactPoint
	}
	return codingMatch(memberString(v, "system"), code, q)
}

// codingMatch matches one system and code.
func codingMatch(system, code string, q *queryValue) bool {
	if q.hasSystem && system != q.system {
		return false
	}
	return q.code == "" && q.hasSystem || code == q.code
}

// tokenText matches :text: CodeableConcept.text or a Coding's display
// starting with the (folded) text.
func tokenText(v []byte, text string) bool {
	if v[0] != '{' {
		return false
	}
	if hasPrefixFold(memberString(v, "text"), text) || hasPrefixFold(memberString(v, "display"), text) {
		return true
	}
	return !eachElement(memberValue(v, "coding"), func(cd []byte) bool {
		return !hasPrefixFold(memberString(cd, "display"), text)
	})
}

// stringParts are the members of a HumanName or Address that a string
// search reads.
var stringParts = []string{"text", "family", "given", "prefix", "suffix", "line", "city", "district", "state", "postalCode", "country"}

// stringMatch matches a string, or the parts of a HumanName or Address.
func (c *criterion) stringMatch(v []byte, text string) bool {
	one := func(s string) bool {
		switch c.modifier {
		case "exact":
			return s == text
		case "contains":
			return strings.Contains(fold(s), text)
		}
		return hasPrefixFold(s, text)
	}
	switch v[0] {
	case '"':
		s, _ := stringValue(v)
		return one(s)
	case '{':
		for _, part := range stringParts {
			pv := memberValue(v, part)
			if pv == nil {
				continue
			}
			if pv[0] == '"' {
				if s, _ := stringValue(pv); one(s) {
					return true
				}
				continue
			}
			if !eachElement(pv, func(e []byte) bool { s, _ := stringValue(e); return !one(s) }) {
				return true
			}
		}
	}
	return false
}

// refMatch matches a Reference (or a canonical string) against Type/id, a
// bare id, or a URL.
func (c *criterion) refMatch(v []byte, q *queryValue) bool {
	ref := referenceOf(v)
	if ref == "" {
		return false
	}
	if ref == q.raw {
		return true
	}
	typ, id := SplitReference(ref)
	if id == "" || id != q.refID {
		return false
	}
	if c.modifier != "" && c.modifier != "missing" && typ != c.modifier {
		return false
	}
	return q.refType == "" || typ == q.refType
}

// dateMatch compares the range r of a resource's value with a date search
// value, as FHIR search defines each prefix.
func dateMatch(r dateRange, q *queryValue, now time.Time) bool {
	s := q.rng
	contains := s.lo <= r.lo && r.hi <= s.hi
	switch q.prefix {
	case "eq":
		return contains
	case "ne":
		return !contains
	case "gt":
		return r.hi > s.hi
	case "lt":
		return r.lo < s.lo
	case "ge":
		return r.hi > s.hi || contains
	case "le":
		return r.lo < s.lo || contains
	case "sa":
		return r.lo >= s.hi
	case "eb":
		return r.hi <= s.lo
	case "ap":
		// Within 10% of the distance between now and the value, at least a
		// day, on either side.
		gap := now.UnixMicro() - s.lo
		if gap < 0 {
			gap = -gap
		}
		slack := max(gap/10, int64(24*time.Hour/time.Microsecond))
		return r.lo < satAdd(s.hi, slack) && r.hi > satAdd(s.lo, -slack)
	}
	return false
}

// satAdd adds without overflowing past the open ends.
func satAdd(a, b int64) int64 {
	c := a + b
	if (b > 0 && c < a) || (b < 0 && c > a) {
		if b > 0 {
			return maxTime
		}
		return minTime
	}
	return c
}
