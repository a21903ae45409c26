package fhir

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Errors of [ParseResource] and [ParseBundle]. Each is wrapped with a
// message a client can act on ("unknown resource type \"Foo\": ..."), so a
// caller tests the kind with errors.Is and shows err.Error() as it is.
// [IssueCode] maps each to the OperationOutcome issue code.
var (
	// ErrNotJSON: the body is empty or not valid JSON.
	ErrNotJSON = errors.New("body is not valid JSON")
	// ErrNotObject: the body is JSON but not an object.
	ErrNotObject = errors.New("not a JSON object")
	// ErrMissingType: the object has no resourceType.
	ErrMissingType = errors.New("resourceType is missing")
	// ErrUnknownType: resourceType is not a FHIR R4 resource type.
	ErrUnknownType = errors.New("unknown resource type")
	// ErrBadID: the id is not a FHIR id.
	ErrBadID = errors.New("invalid id")
	// ErrStructure: a member has the wrong JSON type (an id that is a number,
	// a meta that is not an object) or appears twice.
	ErrStructure = errors.New("invalid structure")
)

// LastUpdatedLayout is how the server writes meta.lastUpdated: RFC 3339 in
// UTC with milliseconds.
const LastUpdatedLayout = "2006-01-02T15:04:05.000Z07:00"

// Resource is a parsed FHIR resource. Raw is its JSON as compact bytes
// (no insignificant whitespace, members in their original order, never a
// newline), so it can be stored and written as one NDJSON line as it is.
type Resource struct {
	Type string // resourceType
	ID   string // id, empty when the resource has none
	Raw  []byte
}

// ParseResource checks that body is a JSON object with a known resourceType
// and, if it has one, a valid id, and returns it compacted. It does not
// validate the resource against its StructureDefinition: jetexport stores
// what clients send. Errors wrap [ErrNotJSON], [ErrNotObject],
// [ErrMissingType], [ErrUnknownType], [ErrBadID] or [ErrStructure].
func ParseResource(body []byte) (Resource, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return Resource{}, fmt.Errorf("%w: the body is empty; send a FHIR resource as a JSON object", ErrNotJSON)
	}
	raw, err := compact(body)
	if err != nil {
		return Resource{}, err
	}
	return parseCompact(raw)
}

// parseCompact is ParseResource for JSON already compacted.
func parseCompact(raw []byte) (Resource, error) {
	if raw[0] != '{' {
		return Resource{}, fmt.Errorf("%w: got %s; a FHIR resource is a JSON object with a resourceType", ErrNotObject, kind(raw))
	}
	r := Resource{Raw: raw}
	var seenType, seenID, seenMeta bool
	for _, m := range members(raw) {
		switch {
		case m.is("resourceType"):
			if seenType {
				return Resource{}, fmt.Errorf("%w: resourceType appears twice", ErrStructure)
			}
			seenType = true
			if m.val[0] != '"' {
				return Resource{}, fmt.Errorf("%w: resourceType is %s, want a string such as \"Patient\"", ErrStructure, kind(m.val))
			}
			r.Type = unquote(m.val)
		case m.is("id"):
			if seenID {
				return Resource{}, fmt.Errorf("%w: id appears twice", ErrStructure)
			}
			seenID = true
			if m.val[0] != '"' {
				return Resource{}, fmt.Errorf("%w: id is %s, want a string", ErrStructure, kind(m.val))
			}
			r.ID = unquote(m.val)
			if !ValidID(r.ID) {
				return Resource{}, badID(r.ID)
			}
		case m.is("meta"):
			if seenMeta {
				return Resource{}, fmt.Errorf("%w: meta appears twice", ErrStructure)
			}
			seenMeta = true
			if m.val[0] != '{' {
				return Resource{}, fmt.Errorf("%w: meta is %s, want an object", ErrStructure, kind(m.val))
			}
		}
	}
	if r.Type == "" {
		return Resource{}, fmt.Errorf("%w: a FHIR resource names its type in resourceType, for example {\"resourceType\": \"Patient\", ...}", ErrMissingType)
	}
	if !IsResourceType(r.Type) {
		return Resource{}, fmt.Errorf("%w %s: not a FHIR R4 resource type (names are case-sensitive, for example \"Patient\")", ErrUnknownType, quoteShort(r.Type))
	}
	return r, nil
}

// badID is the error for an id that is not a FHIR id.
func badID(id string) error {
	return fmt.Errorf("%w %s: an id is 1 to %d characters from A-Z, a-z, 0-9, '-' and '.'", ErrBadID, quoteShort(id), MaxIDLength)
}

// Stamp returns r's JSON with the id set to id (kept as it is when id is
// empty) and meta.versionId and meta.lastUpdated set to versionID and
// lastUpdated (in UTC, with milliseconds), keeping every other member of
// meta and the order of the members. An id or meta the resource lacks is
// added right after resourceType. The result is compact: one NDJSON line.
func (r Resource) Stamp(id, versionID string, lastUpdated time.Time) []byte {
	return stamp(make([]byte, 0, len(r.Raw)+96), r.Raw, id, versionID, lastUpdated)
}

// SetMeta returns resource, which must be a JSON object, as compact JSON
// with meta.versionId and meta.lastUpdated set, every other member kept.
// It does not require a resourceType; [ParseResource] checks that.
func SetMeta(resource []byte, versionID string, lastUpdated time.Time) ([]byte, error) {
	raw, err := compact(resource)
	if err != nil {
		return nil, err
	}
	if raw[0] != '{' {
		return nil, fmt.Errorf("%w: got %s; a FHIR resource is a JSON object", ErrNotObject, kind(raw))
	}
	for _, m := range members(raw) {
		if m.is("meta") && m.val[0] != '{' {
			return nil, fmt.Errorf("%w: meta is %s, want an object", ErrStructure, kind(m.val))
		}
	}
	return stamp(make([]byte, 0, len(raw)+96), raw, "", versionID, lastUpdated), nil
}

// Keys of the members stamp adds.
var keyID, keyMeta = []byte(`"id"`), []byte(`"meta"`)

// stamp appends to dst the compact object obj with id and meta set. An id
// the object lacks goes right after resourceType, a meta right after the
// id, where FHIR's own JSON puts them.
func stamp(dst, obj []byte, id, versionID string, lastUpdated time.Time) []byte {
	ms := members(obj)
	hasType, hasID, hasMeta := false, false, false
	for _, m := range ms {
		hasType = hasType || m.is("resourceType")
		hasID = hasID || m.is("id")
		hasMeta = hasMeta || m.is("meta")
	}
	addID := !hasID && id != ""
	dst = append(dst, '{')
	n := 0 // members written
	put := func(key, val []byte) {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, key...)
		dst = append(dst, ':')
		dst = append(dst, val...)
	}
	var scratch []byte
	newMeta := func(old []byte) []byte {
		scratch = appendMeta(scratch[:0], old, versionID, lastUpdated)
		return scratch
	}
	newID := func() []byte {
		scratch = appendQuoted(scratch[:0], id)
		return scratch
	}
	// after is called once the member that the missing ones follow is out.
	after := func(typ bool) {
		if typ && addID {
			put(keyID, newID())
		}
		if !hasMeta && (!hasID || !typ) {
			put(keyMeta, newMeta(nil))
			hasMeta = true
		}
	}
	if !hasType {
		after(true)
	}
	seenType, seenID, seenMeta := false, false, false
	for _, m := range ms {
		switch {
		case m.is("resourceType") && !seenType:
			seenType = true
			put(m.key, m.val)
			after(true)
		case m.is("id"):
			if seenID {
				continue
			}
			seenID = true
			if id != "" {
				put(m.key, newID())
			} else {
				put(m.key, m.val)
			}
			after(false)
		case m.is("meta"):
			if seenMeta {
				continue
			}
			seenMeta = true
			put(m.key, newMeta(m.val))
		default:
			put(m.key, m.val)
		}
	}
	return append(dst, '}')
}

// appendMeta appends the meta object old (nil for none) with versionId and
// lastUpdated replaced by the server's values.
func appendMeta(dst, old []byte, versionID string, lastUpdated time.Time) []byte {
	dst = append(dst, '{')
	for _, m := range members(old) {
		if m.is("versionId") || m.is("lastUpdated") {
			continue
		}
		dst = append(dst, m.key...)
		dst = append(dst, ':')
		dst = append(dst, m.val...)
		dst = append(dst, ',')
	}
	dst = append(dst, `"versionId":`...)
	dst = appendQuoted(dst, versionID)
	dst = append(dst, `,"lastUpdated":"`...)
	dst = lastUpdated.UTC().AppendFormat(dst, LastUpdatedLayout)
	return append(dst, `"}`...)
}

// Meta returns meta.versionId and meta.lastUpdated of a resource, empty and
// zero when absent or unreadable. It reads only what it needs.
func Meta(resource []byte) (versionID string, lastUpdated time.Time) {
	for _, m := range members(resource) {
		if !m.is("meta") {
			continue
		}
		for _, f := range members(m.val) {
			switch {
			case f.is("versionId"):
				versionID = unquote(f.val)
			case f.is("lastUpdated"):
				lastUpdated, _ = ParseInstant(unquote(f.val))
			}
		}
		break
	}
	return versionID, lastUpdated
}
