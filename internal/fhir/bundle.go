package fhir

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// The Bundle types POST /fhir accepts.
const (
	BundleBatch       = "batch"
	BundleTransaction = "transaction"
)

// The request methods a Bundle entry may use.
const (
	MethodPost   = "POST"
	MethodPut    = "PUT"
	MethodDelete = "DELETE"
)

// More errors of [ParseBundle], wrapped like those of [ParseResource].
var (
	// ErrNotBundle: the body is a resource, but not a Bundle.
	ErrNotBundle = errors.New("not a Bundle")
	// ErrBundleType: the Bundle is not a batch or a transaction.
	ErrBundleType = errors.New("unsupported Bundle type")
	// ErrMismatch: an entry's resource does not match its request URL.
	ErrMismatch = errors.New("resource does not match its URL")
	// ErrNotSupported: an entry asks for something jetexport does not do
	// (a read, a PATCH, a conditional update).
	ErrNotSupported = errors.New("not supported")
)

// EntryError is the problem with one entry of a Bundle. It unwraps to the
// error saying what is wrong.
type EntryError struct {
	Index int // position in Bundle.entry, from 0
	Err   error
}

// Error names the entry the way FHIRPath does: Bundle.entry[3].
func (e *EntryError) Error() string { return fmt.Sprintf("Bundle.entry[%d]: %v", e.Index, e.Err) }

// Unwrap returns the error saying what is wrong with the entry.
func (e *EntryError) Unwrap() error { return e.Err }

// Bundle is a parsed batch or transaction Bundle.
type Bundle struct {
	Type    string // BundleBatch or BundleTransaction
	Entries []Entry
}

// Entry is one entry of a [Bundle], resolved to the record it writes.
type Entry struct {
	Index   int
	FullURL string
	Method  string // MethodPost, MethodPut or MethodDelete
	// Type and ID name the record: for a POST the resource's own id when it
	// has one (kept, as Synthea expects), otherwise a new one from [NewID];
	// for PUT and DELETE the id in request.url.
	Type, ID string
	// Resource is the resource to store (zero for a DELETE), compact, with
	// every reference to another entry's fullUrl rewritten to Type/id. Its
	// id and meta are set by [Resource.Stamp] when it is stored.
	Resource Resource
	// Err is the entry's problem, an *EntryError, or nil. A batch applies
	// the other entries; a transaction with any Err is rejected whole.
	Err error
}

// Key returns "Type/id", the entry's record as a relative reference.
func (e Entry) Key() string { return e.Type + "/" + e.ID }

// ParseBundle parses a batch or transaction Bundle. An error means the body
// as a whole is not one (errors wrap [ErrNotJSON], [ErrNotObject],
// [ErrMissingType], [ErrNotBundle], [ErrBundleType] or [ErrStructure]);
// problems of single entries are in their [Entry.Err] instead.
//
// References: every "reference" member, anywhere in any entry's resource,
// whose value is the fullUrl of an entry that creates or updates a record
// (POST or PUT) becomes "Type/id". Others are left as they are: contained
// references ("#id"), references already relative, and urn:uuid: references
// that no entry of the Bundle resolves (in a batch and in a transaction
// alike; the record keeps what the client sent).
//
// A request.ifNoneExist is not evaluated: a POST carrying an id is an
// upsert of that id, which makes reloading the same Bundle idempotent.
func ParseBundle(body []byte) (Bundle, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return Bundle{}, fmt.Errorf("%w: the body is empty; send a Bundle of type batch or transaction", ErrNotJSON)
	}
	// One pass validates and compacts the whole Bundle; the entries'
	// resources are then compact slices of it, ready to store.
	body, err := compact(body)
	if err != nil {
		return Bundle{}, err
	}
	if body[0] != '{' {
		return Bundle{}, fmt.Errorf("%w: got %s; send a Bundle of type batch or transaction", ErrNotObject, kind(body))
	}
	var rtype, btype, entries []byte
	for _, m := range members(body) {
		switch {
		case m.is("resourceType"):
			rtype = m.val
		case m.is("type"):
			btype = m.val
		case m.is("entry"):
			entries = m.val
		}
	}
	switch t := unquote(rtype); {
	case rtype == nil:
		return Bundle{}, fmt.Errorf("%w: send a Bundle, {\"resourceType\": \"Bundle\", \"type\": \"transaction\", \"entry\": [...]}", ErrMissingType)
	case t != "Bundle":
		return Bundle{}, fmt.Errorf("%w: resourceType is %s; POST /fhir takes a Bundle of type batch or transaction", ErrNotBundle, shortJSON(rtype))
	}
	b := Bundle{Type: unquote(btype)}
	if b.Type != BundleBatch && b.Type != BundleTransaction {
		got := "missing"
		if btype != nil {
			got = shortJSON(btype)
		}
		return Bundle{}, fmt.Errorf("%w: Bundle.type is %s; want \"batch\" or \"transaction\"", ErrBundleType, got)
	}
	if entries == nil || entries[0] == 'n' {
		return b, nil
	}
	if entries[0] != '[' {
		return Bundle{}, fmt.Errorf("%w: Bundle.entry is %s, want an array", ErrStructure, kind(entries))
	}
	elems := elements(entries)
	b.Entries = make([]Entry, len(elems))
	for i, raw := range elems {
		b.Entries[i] = parseEntry(i, raw)
	}
	resolveReferences(b.Entries)
	return b, nil
}

// parseEntry parses entry i, recording its problem in Err.
func parseEntry(i int, raw []byte) Entry {
	e := Entry{Index: i}
	if err := e.parse(raw); err != nil {
		e.Err = &EntryError{Index: i, Err: err}
	}
	return e
}

// parse parses one entry, a slice of the compacted Bundle.
func (e *Entry) parse(raw []byte) error {
	if raw[0] != '{' {
		return fmt.Errorf("%w: the entry is %s, want an object", ErrStructure, kind(raw))
	}
	var request, resource []byte
	for _, m := range members(raw) {
		switch {
		case m.is("fullUrl"):
			if m.val[0] != '"' {
				return fmt.Errorf("%w: fullUrl is %s, want a string", ErrStructure, kind(m.val))
			}
			e.FullURL = unquote(m.val)
		case m.is("request"):
			request = m.val
		case m.is("resource"):
			resource = m.val
		}
	}
	if request == nil || request[0] != '{' {
		return fmt.Errorf("%w: request is missing; each entry needs request.method (POST, PUT or DELETE) and request.url", ErrStructure)
	}
	var url string
	for _, m := range members(request) {
		switch {
		case m.is("method"):
			e.Method = unquote(m.val)
		case m.is("url"):
			url = unquote(m.val)
		case m.is("ifMatch"):
			return fmt.Errorf("%w: request.ifMatch (a versioned update); send the entry without it", ErrNotSupported)
		}
	}
	switch e.Method {
	case MethodPost, MethodPut, MethodDelete:
	case "GET", "HEAD", "PATCH":
		return fmt.Errorf("%w: request.method %s; a Bundle sent here may only POST, PUT or DELETE", ErrNotSupported, e.Method)
	default:
		return fmt.Errorf("%w: request.method is %s; want POST, PUT or DELETE", ErrStructure, quoteShort(e.Method))
	}
	typ, id, err := parseRequestURL(e.Method, url)
	if err != nil {
		return err
	}
	e.Type, e.ID = typ, id
	if e.Method == MethodDelete {
		return nil
	}
	if resource == nil || resource[0] == 'n' {
		return fmt.Errorf("%w: resource is missing; a %s needs the resource to store", ErrStructure, e.Method)
	}
	r, err := parseCompact(resource)
	if err != nil {
		return fmt.Errorf("resource: %w", err)
	}
	if r.Type != typ {
		return fmt.Errorf("%w: resourceType is %s but request.url is %s", ErrMismatch, quoteShort(r.Type), quoteShort(url))
	}
	switch {
	case e.Method == MethodPut && r.ID != "" && r.ID != id:
		return fmt.Errorf("%w: resource id is %s but request.url is %s", ErrMismatch, quoteShort(r.ID), quoteShort(url))
	case e.Method == MethodPost && r.ID != "":
		e.ID = r.ID
	case e.Method == MethodPost:
		e.ID = NewID()
	}
	e.Resource = r
	return nil
}

// parseRequestURL checks request.url: "Type" for a POST, "Type/id" for a
// PUT or DELETE, relative to the server's base.
func parseRequestURL(method, url string) (typ, id string, err error) {
	want := "Type/id, such as Patient/123"
	if method == MethodPost {
		want = "the resource type, such as Patient"
	}
	switch {
	case url == "":
		return "", "", fmt.Errorf("%w: request.url is missing; want %s", ErrStructure, want)
	case strings.Contains(url, "?"):
		return "", "", fmt.Errorf("%w: conditional request.url %s; want %s", ErrNotSupported, quoteShort(url), want)
	case strings.Contains(url, "://"):
		return "", "", fmt.Errorf("%w: request.url %s is absolute; want %s", ErrStructure, quoteShort(url), want)
	}
	parts := strings.Split(strings.Trim(url, "/"), "/")
	if !IsResourceType(parts[0]) {
		return "", "", fmt.Errorf("%w %s in request.url %s", ErrUnknownType, quoteShort(parts[0]), quoteShort(url))
	}
	switch {
	case method == MethodPost && len(parts) == 1:
		return parts[0], "", nil
	case method != MethodPost && len(parts) == 2:
		if !ValidID(parts[1]) {
			return "", "", badID(parts[1])
		}
		return parts[0], parts[1], nil
	}
	return "", "", fmt.Errorf("%w: request.url is %s; a %s wants %s", ErrStructure, quoteShort(url), method, want)
}

// resolveReferences rewrites references to entries' fullUrls to Type/id.
func resolveReferences(entries []Entry) {
	refs := make(map[string]string)
	owner := make(map[string]int)
	for i := range entries {
		e := &entries[i]
		if e.Err != nil || e.FullURL == "" || e.Method == MethodDelete {
			continue
		}
		key := e.Key()
		if prev, ok := refs[e.FullURL]; ok && prev != key {
			e.Err = &EntryError{Index: i, Err: fmt.Errorf("%w: fullUrl %s is also the fullUrl of entry %d (%s)",
				ErrStructure, quoteShort(e.FullURL), owner[e.FullURL], prev)}
			continue
		}
		refs[e.FullURL] = key
		owner[e.FullURL] = i
	}
	if len(refs) == 0 {
		return
	}
	for i := range entries {
		r := &entries[i].Resource
		if entries[i].Err == nil && bytes.Contains(r.Raw, []byte(`"reference"`)) {
			r.Raw = rewriteReferences(make([]byte, 0, len(r.Raw)), r.Raw, refs)
		}
	}
}

// rewriteReferences appends the compact JSON src to dst with the value of
// every "reference" member found in refs replaced by refs' value.
func rewriteReferences(dst, src []byte, refs map[string]string) []byte {
	last := 0
	forEachReference(src, func(start, end int) {
		tok := src[start:end]
		var to string
		var ok bool
		if bytes.IndexByte(tok, '\\') < 0 {
			to, ok = refs[string(tok[1:len(tok)-1])]
		} else {
			to, ok = refs[unquote(tok)]
		}
		if ok {
			dst = append(dst, src[last:start]...)
			dst = appendQuoted(dst, to)
			last = end
		}
	})
	return append(dst, src[last:]...)
}

// forEachReference calls fn with the bounds of the string token of every
// "reference" member in the compact JSON src, at any depth.
func forEachReference(src []byte, fn func(start, end int)) {
	for i := 0; i < len(src); {
		if src[i] != '"' {
			i++
			continue
		}
		e := skipString(src, i)
		if e+1 < len(src) && src[e] == ':' && (member{key: src[i:e]}).is("reference") && src[e+1] == '"' {
			ve := skipString(src, e+1)
			fn(e+1, ve)
			i = ve
			continue
		}
		i = e
	}
}

// References returns the value of every "reference" member of a resource,
// at any depth, in document order: relative ("Patient/123"), contained
// ("#med1"), absolute and urn:uuid: references alike.
func References(resource []byte) ([]string, error) {
	raw, err := compact(resource)
	if err != nil {
		return nil, err
	}
	var out []string
	forEachReference(raw, func(start, end int) { out = append(out, unquote(raw[start:end])) })
	return out, nil
}
