package fhir

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Errors of [ParseTypeFilter] and [ValidateTypeFilters]. Each is wrapped
// with a message that names the query and what to fix.
var (
	// ErrUnsupported: the query is well formed but uses a search parameter,
	// modifier or prefix this server does not evaluate. Under
	// handling=lenient such a parameter is dropped and reported instead. It
	// unwraps to [ErrNotSupported], so [IssueCode] says "not-supported".
	ErrUnsupported error = &kindError{msg: "not supported", parent: ErrNotSupported}
	// ErrTypeFilter: the query is malformed (no "Type?", an unknown type,
	// a parameter without '=', a value that is not a date...). Lenient
	// handling does not excuse it.
	ErrTypeFilter = errors.New("invalid _typeFilter")
)

// kindError is a sentinel error that also is another, broader one.
type kindError struct {
	msg    string
	parent error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.parent }

// paramKind is the type of a search parameter.
type paramKind uint8

const (
	kindToken paramKind = iota + 1
	kindString
	kindDate
	kindReference
	kindURI
)

func (k paramKind) String() string {
	return [...]string{"", "token", "string", "date", "reference", "uri"}[k]
}

// searchParam is a search parameter of a type: its kind and its paths.
type searchParam struct {
	name  string
	kind  paramKind
	paths []path
}

// searchParams indexes searchParamTable: type -> name -> parameter; the
// type "Resource" holds those every type has.
var searchParams = func() map[string]map[string]*searchParam {
	m := map[string]map[string]*searchParam{}
	for _, row := range searchParamTable {
		if m[row.typ] == nil {
			m[row.typ] = map[string]*searchParam{}
		}
		m[row.typ][row.name] = &searchParam{name: row.name, kind: row.kind, paths: mustPaths(row.paths)}
	}
	return m
}()

// lookupParam returns the search parameter name of type typ, or nil.
func lookupParam(typ, name string) *searchParam {
	if p := searchParams[typ][name]; p != nil {
		return p
	}
	return searchParams["Resource"][name]
}

// SearchParams returns the search parameters _typeFilter supports for typ,
// name to kind ("code" -> "token"), for the gateway's CapabilityStatement.
// Every type has _id, _lastUpdated, _tag, _profile, _security and _source.
// The map is the caller's.
func SearchParams(typ string) map[string]string {
	out := map[string]string{}
	for _, t := range []string{"Resource", typ} {
		for name, p := range searchParams[t] {
			out[name] = p.kind.String()
		}
	}
	return out
}

// TypeFilter is one parsed _typeFilter query, "Type?param=value&...": a
// resource of Type matches when it matches every parameter (AND), and a
// parameter matches when any of its comma-separated values does (OR).
// A TypeFilter is immutable and safe for concurrent use.
type TypeFilter struct {
	Type  string // the resource type the query is about
	Query string // the query as given
	crit  []criterion
}

// Match reports whether resource (a resource of f.Type, as compact JSON
// from the store) satisfies the query. A query left without parameters
// (all dropped under handling=lenient) matches everything.
func (f TypeFilter) Match(resource []byte) bool {
	for i := range f.crit {
		if !f.crit[i].match(resource) {
			return false
		}
	}
	return true
}

// All reports whether the filter keeps every resource of its type: it has
// no parameter left.
func (f TypeFilter) All() bool { return len(f.crit) == 0 }

// ParseTypeFilter parses one _typeFilter query, such as
// "Observation?code=http://loinc.org|8867-4&date=ge2020-01-01". The query
// may be URL-encoded as a whole or value by value ('+' stays a plus: it is
// the zone of a time more often than a space). Errors wrap
// [ErrUnsupported] or [ErrTypeFilter].
//
// Semantics, as FHIR search defines them: token (code, system|code, |code,
// system|; modifiers :not, :text), string (starts with, ignoring case and
// common accents; :exact, :contains), date (eq ne gt lt ge le sa eb ap,
// partial dates as ranges; a date without a zone is UTC), reference
// (Type/id, id, an absolute URL; :Type), uri (exact; :below), and :missing
// on every parameter.
func ParseTypeFilter(q string) (TypeFilter, error) {
	f, _, err := parseTypeFilter(q, false, time.Now())
	return f, err
}

// parseTypeFilter parses q; when lenient, unsupported parameters are
// dropped and described in warnings. now anchors the prefix ap.
func parseTypeFilter(q string, lenient bool, now time.Time) (TypeFilter, []string, error) {
	raw := q
	q = strings.TrimSpace(q)
	if !strings.Contains(q, "?") && strings.Contains(strings.ToUpper(q), "%3F") {
		if dec, err := url.PathUnescape(q); err == nil {
			q = dec
		}
	}
	typ, query, ok := strings.Cut(q, "?")
	if !ok {
		return TypeFilter{}, nil, fmt.Errorf("%w %s: want a resource type, '?' and a search query, such as Observation?status=final", ErrTypeFilter, quoteShort(raw))
	}
	if !IsResourceType(typ) {
		return TypeFilter{}, nil, fmt.Errorf("%w %s: %w %s (names are case-sensitive, for example Observation)", ErrTypeFilter, quoteShort(raw), ErrUnknownType, quoteShort(typ))
	}
	f := TypeFilter{Type: typ, Query: raw}
	var warnings []string
	n := 0
	for part := range strings.SplitSeq(query, "&") {
		if part == "" {
			continue
		}
		n++
		c, err := parseCriterion(typ, part, now)
		switch {
		case err == nil:
			f.crit = append(f.crit, c)
		case lenient && errors.Is(err, ErrUnsupported):
			warnings = append(warnings, fmt.Sprintf("_typeFilter %s: %v; ignored (handling=lenient), so more %s resources are exported than asked", quoteShort(raw), err, typ))
		default:
			return TypeFilter{}, nil, fmt.Errorf("_typeFilter %s: %w", quoteShort(raw), err)
		}
	}
	if n == 0 {
		return TypeFilter{}, nil, fmt.Errorf("%w %s: the query after '?' is empty; give at least one parameter, such as %s?_lastUpdated=ge2024-01-01", ErrTypeFilter, quoteShort(raw), typ)
	}
	return f, warnings, nil
}

// resultParams are FHIR's search result parameters, which the Bulk Data IG
// forbids in _typeFilter, and other special ones this server does not do.
var resultParams = []string{"_sort", "_count", "_include", "_revinclude", "_summary", "_total", "_elements",
	"_contained", "_containedType", "_format", "_pretty", "_has", "_list", "_text", "_content", "_query", "_filter", "_type"}

// parseCriterion parses "name[:modifier]=v1,v2" for type typ.
func parseCriterion(typ, part string, now time.Time) (criterion, error) {
	rawName, rawValue, ok := strings.Cut(part, "=")
	name, err := url.PathUnescape(rawName)
	if err != nil {
		return criterion{}, fmt.Errorf("%w: parameter name %s is badly URL-encoded", ErrTypeFilter, quoteShort(rawName))
	}
	if !ok {
		return criterion{}, fmt.Errorf("%w: %s has no '=' and value", ErrTypeFilter, quoteShort(name))
	}
	name, modifier, _ := strings.Cut(name, ":")
	switch {
	case slices.Contains(resultParams, name):
		return criterion{}, fmt.Errorf("%w: %s cannot be used in _typeFilter (only search parameters that select resources can)", ErrUnsupported, name)
	case strings.Contains(name, "."):
		return criterion{}, fmt.Errorf("%w: chained parameter %s (search on the referenced resource's fields)", ErrUnsupported, quoteShort(name))
	}
	p := lookupParam(typ, name)
	if p == nil {
		return criterion{}, fmt.Errorf("%w: search parameter %s for %s; supported: %s", ErrUnsupported, quoteShort(name), typ, strings.Join(sortedKeys(SearchParams(typ)), ", "))
	}
	c := criterion{param: p, modifier: modifier, now: now}
	if err := c.checkModifier(typ); err != nil {
		return criterion{}, err
	}
	if modifier == "missing" {
		switch rawValue {
		case "true", "false":
			c.missing = rawValue == "true"
			return c, nil
		}
		return criterion{}, fmt.Errorf("%w: %s:missing takes true or false, not %s", ErrTypeFilter, name, quoteShort(rawValue))
	}
	for _, rv := range splitUnescaped(rawValue, ',') {
		v, err := url.PathUnescape(rv)
		if err != nil {
			return criterion{}, fmt.Errorf("%w: %s=%s is badly URL-encoded", ErrTypeFilter, name, quoteShort(rawValue))
		}
		if v == "" {
			return criterion{}, fmt.Errorf("%w: %s has an empty value", ErrTypeFilter, name)
		}
		qv, err := c.parseValue(v)
		if err != nil {
			return criterion{}, fmt.Errorf("%s=%s: %w", name, quoteShort(v), err)
		}
		c.values = append(c.values, qv)
	}
	return c, nil
}

// checkModifier accepts the modifiers this server evaluates for the kind.
func (c *criterion) checkModifier(typ string) error {
	m := c.modifier
	if m == "" || m == "missing" {
		return nil
	}
	ok := false
	switch c.param.kind {
	case kindToken:
		ok = m == "not" || m == "text"
	case kindString:
		ok = m == "exact" || m == "contains"
	case kindReference:
		ok = IsResourceType(m)
	case kindURI:
		ok = m == "below"
	}
	if !ok {
		return fmt.Errorf("%w: modifier :%s on %s parameter %s of %s", ErrUnsupported, m, c.param.kind, c.param.name, typ)
	}
	return nil
}

// splitUnescaped splits s at each sep not escaped by a backslash, keeping
// the escapes for the value parser.
func splitUnescaped(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unescapeSearch removes FHIR search escapes: \, \| \$ \\.
func unescapeSearch(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// SplitTypeFilters splits one _typeFilter value into its queries. The IG
// joins several queries with commas, and a comma inside a query separates
// the values of one parameter, so a comma starts a new query only when a
// resource type and '?' (or its encoding %3F) follow it.
func SplitTypeFilters(value string) []string {
	var out []string
	start := 0
	for i := 0; i < len(value); i++ {
		if value[i] != ',' {
			continue
		}
		rest := value[i+1:]
		j := 0
		for j < len(rest) && (rest[j] >= 'a' && rest[j] <= 'z' || rest[j] >= 'A' && rest[j] <= 'Z') {
			j++
		}
		if j > 0 && IsResourceType(rest[:j]) && (strings.HasPrefix(rest[j:], "?") || strings.HasPrefix(strings.ToUpper(rest[j:]), "%3F")) {
			out = append(out, value[start:i])
			start = i + 1
		}
	}
	out = append(out, value[start:])
	return slices.DeleteFunc(out, func(s string) bool { return strings.TrimSpace(s) == "" })
}

// ValidateTypeFilters checks raw _typeFilter values (repeated or
// comma-joined) as [NewSelection] will read them, for the gateway to reject
// a bad request at kick-off. With lenient, unsupported parameters are not
// errors: warnings say which were dropped. err joins every problem
// (errors.Join), each wrapping [ErrUnsupported] or [ErrTypeFilter].
func ValidateTypeFilters(values []string, lenient bool) (warnings []string, err error) {
	_, warnings, err = parseTypeFilters(values, lenient, time.Now())
	return warnings, err
}

// parseTypeFilters parses every query of values, grouped by type.
func parseTypeFilters(values []string, lenient bool, now time.Time) (map[string][]TypeFilter, []string, error) {
	byType := map[string][]TypeFilter{}
	var warnings []string
	var errs []error
	for _, v := range values {
		for _, q := range SplitTypeFilters(v) {
			f, w, err := parseTypeFilter(q, lenient, now)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			warnings = append(warnings, w...)
			byType[f.Type] = append(byType[f.Type], f)
		}
	}
	return byType, warnings, errors.Join(errs...)
}
