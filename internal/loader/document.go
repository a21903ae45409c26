package loader

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// document is what the loader reads of a JSON file or an NDJSON line to
// route it: a Bundle's type and entries, or a resource's type and id.
type document struct {
	ResourceType string     `json:"resourceType"`
	ID           string     `json:"id"`
	Type         string     `json:"type"`
	Entry        []docEntry `json:"entry"`
}

type docEntry struct {
	FullURL  string `json:"fullUrl"`
	Resource struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	} `json:"resource"`
	Request struct {
		Method string `json:"method"`
		URL    string `json:"url"`
	} `json:"request"`
}

// ErrNotResource: a file or line is not a JSON object with a resourceType.
var ErrNotResource = errors.New("not a FHIR resource")

// parseDocument reads the routing fields of a JSON document.
func parseDocument(b []byte) (*document, error) {
	var d document
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotResource, jsonProblem(err))
	}
	if d.ResourceType == "" {
		return nil, fmt.Errorf("%w: no resourceType", ErrNotResource)
	}
	return &d, nil
}

// jsonProblem says in plain words why JSON could not be decoded.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field == "":
		return "a JSON " + te.Value + ", not an object"
	case errors.As(err, &te):
		return fmt.Sprintf("%s is a JSON %s, not a %s", te.Field, te.Value, te.Type)
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)
	}
	return "invalid JSON: " + err.Error()
}

// docKind says how a JSON document is sent.
type docKind int

const (
	kindSingle     docKind = iota // one resource: PUT /fhir/{type}/{id}
	kindBatch                     // a batch or transaction Bundle: POST /fhir as is
	kindCollection                // a collection, searchset or history Bundle: its resources, in batches
)

func (d *document) kind() docKind {
	if d.ResourceType != "Bundle" {
		return kindSingle
	}
	switch d.Type {
	case "batch", "transaction":
		return kindBatch
	case "collection", "searchset", "history":
		return kindCollection
	}
	return kindSingle // a document or message Bundle is itself the record
}

// count is the number of resources d holds.
func (d *document) count() int {
	if d.kind() == kindSingle {
		return 1
	}
	return len(d.Entry)
}

// target returns the record a batch or transaction entry writes: its
// resource's type and id, or for a PUT or DELETE the Type/id of its URL.
func (e *docEntry) target() entry {
	t := entry{typ: e.Resource.ResourceType, id: e.Resource.ID}
	path, _, _ := strings.Cut(e.Request.URL, "?")
	typ, id, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	switch {
	case t.typ == "" && ok:
		t.typ, t.id = typ, id
	case t.typ == "":
		t.typ = typ
	case ok && strings.EqualFold(e.Request.Method, "PUT"):
		t.id = id
	}
	return t
}

// urnPrefix starts the fullUrl of an entry that has no URL of its own.
const urnPrefix = "urn:uuid:"

// rewriteRefs replaces every "reference" to a urn:uuid that urns knows with
// the Type/id it was loaded as. It returns body unchanged when there is
// nothing to replace. Synthea's groupInformation file needs this: a bare
// Group whose members are referenced by the urn:uuid of their Bundle entry.
func rewriteRefs(body []byte, urns map[string]string) ([]byte, error) {
	if len(urns) == 0 || !bytes.Contains(body, []byte(urnPrefix)) {
		return body, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotResource, jsonProblem(err))
	}
	if !replaceRefs(v, urns) {
		return body, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func replaceRefs(v any, urns map[string]string) bool {
	changed := false
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "reference" {
				if to, ok := urns[s]; ok {
					v[k] = to
					changed = true
				}
				continue
			}
			changed = replaceRefs(x, urns) || changed
		}
	case []any:
		for _, x := range v {
			changed = replaceRefs(x, urns) || changed
		}
	}
	return changed
}
