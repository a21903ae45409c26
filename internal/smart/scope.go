package smart

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jetexport/jetexport/internal/fhir"
)

// Scope errors. Each is wrapped with a message naming the scope and what to
// ask for instead; the token endpoint answers them as invalid_scope.
var (
	// ErrInvalidScope: the scope is not a SMART system scope this server
	// knows (a patient/ or user/ scope, an unknown type, bad syntax).
	ErrInvalidScope = errors.New("invalid scope")
	// ErrWriteScope: the scope asks for write access; jetexport grants read
	// access only.
	ErrWriteScope = errors.New("write scopes are not granted")
)

// maxScopes bounds how many scopes one request may list.
const maxScopes = 64

// Scope is one SMART system scope, in v1 syntax ("system/Patient.read") or
// v2 syntax ("system/Observation.rs?category=laboratory").
type Scope struct {
	// Type is a resource type or "*" for every type.
	Type string
	// Query restricts a v2 scope to the resources matching a FHIR search
	// (without the '?'); empty for an unrestricted scope.
	Query string
	// Read and Search are the permissions granted ("r" and "s" in v2; v1
	// "read" grants both).
	Read, Search bool
	raw          string
}

// String returns the scope as it was written.
func (s Scope) String() string { return s.raw }

// Scopes is a set of granted scopes, in the order they were asked for.
type Scopes []Scope

// ParseScopes parses a space-separated scope parameter. Every scope must be
// a read-only system scope; the error joins one error per bad scope, each
// wrapping [ErrInvalidScope] or [ErrWriteScope].
func ParseScopes(s string) (Scopes, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: no scope given; ask for system/*.read (v1) or system/*.rs (v2)", ErrInvalidScope)
	}
	if len(fields) > maxScopes {
		return nil, fmt.Errorf("%w: %d scopes; at most %d are allowed", ErrInvalidScope, len(fields), maxScopes)
	}
	var out Scopes
	var errs []error
	for _, f := range fields {
		sc, err := parseScope(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !slices.ContainsFunc(out, func(o Scope) bool { return o.raw == sc.raw }) {
			out = append(out, sc)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// parseScope parses one scope.
func parseScope(raw string) (Scope, error) {
	q := quote(raw)
	rest, ok := strings.CutPrefix(raw, "system/")
	if !ok {
		return Scope{}, fmt.Errorf("%w %s: backend services are granted system/ scopes only, such as system/*.read or system/Patient.rs", ErrInvalidScope, q)
	}
	resource, query, hasQuery := strings.Cut(rest, "?")
	typ, perm, ok := strings.Cut(resource, ".")
	if !ok || typ == "" || perm == "" {
		return Scope{}, fmt.Errorf("%w %s: want system/<Type or *>.<permissions>, such as system/Observation.read", ErrInvalidScope, q)
	}
	if typ != "*" && !fhir.IsResourceType(typ) {
		return Scope{}, fmt.Errorf("%w %s: %s is not a FHIR R4 resource type", ErrInvalidScope, q, quote(typ))
	}
	sc := Scope{Type: typ, raw: raw}
	v2 := false
	switch perm {
	case "read":
		sc.Read, sc.Search = true, true
	case "write", "*":
		return Scope{}, fmt.Errorf("%w: %s asks for write access; this server exports data and grants read scopes only (system/%s.read or system/%s.rs)", ErrWriteScope, q, typ, typ)
	default:
		v2 = true
		var err error
		if sc.Read, sc.Search, err = parseV2Permissions(perm); err != nil {
			return Scope{}, fmt.Errorf("%w %s: %w", ErrInvalidScope, q, err)
		}
	}
	if !hasQuery {
		return sc, nil
	}
	switch {
	case !v2:
		return Scope{}, fmt.Errorf("%w %s: only v2 scopes (.rs) may carry a search query", ErrInvalidScope, q)
	case typ == "*":
		return Scope{}, fmt.Errorf("%w %s: a search query needs a resource type, not *", ErrInvalidScope, q)
	case query == "":
		return Scope{}, fmt.Errorf("%w %s: the search query after '?' is empty", ErrInvalidScope, q)
	}
	if _, err := fhir.ValidateTypeFilters([]string{typ + "?" + query}, false); err != nil {
		return Scope{}, fmt.Errorf("%w %s: its query cannot be enforced: %w", ErrInvalidScope, q, err)
	}
	sc.Query = query
	return sc, nil
}

// parseV2Permissions reads a v2 permission string: letters of "cruds" in
// that order, each at most once.
func parseV2Permissions(perm string) (read, search bool, err error) {
	const order = "cruds"
	last := -1
	for _, r := range perm {
		i := strings.IndexRune(order, r)
		if i < 0 || i <= last {
			return false, false, fmt.Errorf("permissions %s: want letters of cruds in that order, such as rs", quote(perm))
		}
		last = i
	}
	if strings.ContainsAny(perm, "cud") {
		return false, false, fmt.Errorf("%w: permissions %s include create, update or delete; ask for rs", ErrWriteScope, quote(perm))
	}
	return strings.Contains(perm, "r"), strings.Contains(perm, "s"), nil
}

// String returns the scopes space-separated, as a token response lists them.
func (ss Scopes) String() string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.raw
	}
	return strings.Join(parts, " ")
}

// Coverage is what a set of scopes lets a client read of one resource type.
type Coverage struct {
	// Covered is false when no scope grants read access to the type.
	Covered bool
	// Queries, when not empty, restrict the type to the resources matching
	// at least one of these searches ("Type?query" each); nil means every
	// resource of the type.
	Queries []string
}

// Covers returns what ss let a client read of resources of type typ.
func (ss Scopes) Covers(typ string) Coverage {
	var c Coverage
	for _, s := range ss {
		if !s.Read || s.Type != "*" && s.Type != typ {
			continue
		}
		if s.Query == "" {
			return Coverage{Covered: true}
		}
		c.Covered = true
		c.Queries = append(c.Queries, typ+"?"+s.Query)
	}
	return c
}

// Within reports an error, wrapping [ErrInvalidScope], for every scope of ss
// that allowed does not grant: a client may ask for the scopes it was
// registered with, or narrower ones.
func (ss Scopes) Within(allowed Scopes) error {
	var errs []error
	for _, s := range ss {
		if !slices.ContainsFunc(allowed, func(a Scope) bool { return a.grants(s) }) {
			errs = append(errs, fmt.Errorf("%w %s: the client is registered for %q only", ErrInvalidScope, quote(s.raw), allowed.String()))
		}
	}
	return errors.Join(errs...)
}

// grants reports whether scope a includes everything s asks for.
func (a Scope) grants(s Scope) bool {
	if a.Type != "*" && a.Type != s.Type {
		return false
	}
	if a.Query != "" && (a.Type != s.Type || a.Query != s.Query) {
		return false
	}
	return (a.Read || !s.Read) && (a.Search || !s.Search)
}

// quote quotes s for a message, shortened to 80 bytes.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return fmt.Sprintf("%q", s)
}
