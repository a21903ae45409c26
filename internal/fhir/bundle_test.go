package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// syntheaFiles returns the Synthea transaction Bundles the repository carries.
func syntheaFiles(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "synthea", "*.json"))
	if err != nil || len(files) != 3 {
		tb.Fatalf("want 3 Synthea bundles in testdata/synthea, got %d (%v)", len(files), err)
	}
	return files
}

func TestParseBundleSynthea(t *testing.T) {
	for _, f := range syntheaFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b, err := ParseBundle(body)
			if err != nil {
				t.Fatalf("ParseBundle: %v", err)
			}
			if b.Type != BundleTransaction {
				t.Errorf("Type = %q", b.Type)
			}
			keys := map[string]bool{}
			for _, e := range b.Entries {
				if e.Err != nil {
					t.Fatalf("entry %d: %v", e.Index, e.Err)
				}
				// Synthea: fullUrl urn:uuid:X and resource.id X; the id is kept.
				if e.Method != MethodPost || e.FullURL != "urn:uuid:"+e.ID || e.Resource.ID != e.ID {
					t.Errorf("entry %d: %s %s fullUrl %s resource id %s", e.Index, e.Method, e.Key(), e.FullURL, e.Resource.ID)
				}
				keys[e.Key()] = true
			}
			contained := 0
			for _, e := range b.Entries {
				if bytes.ContainsAny(e.Resource.Raw, "\n\r") || !json.Valid(e.Resource.Raw) {
					t.Fatalf("entry %d: resource is not one compact JSON line", e.Index)
				}
				refs, err := References(e.Resource.Raw)
				if err != nil {
					t.Fatal(err)
				}
				for _, ref := range refs {
					switch {
					case strings.HasPrefix(ref, "#"):
						contained++
					case !keys[ref]:
						t.Errorf("entry %d (%s): reference %q does not resolve inside the Bundle", e.Index, e.Key(), ref)
					}
				}
			}
			t.Logf("%d entries, %d contained references left alone", len(b.Entries), contained)
		})
	}
}

func TestParseBundleReferences(t *testing.T) {
	body := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","id":"p"},"request":{"method":"POST","url":"Patient"}},
	 {"fullUrl":"urn:uuid:e","resource":{"resourceType":"Encounter"},"request":{"method":"POST","url":"Encounter"}},
	 {"fullUrl":"http://x.org/fhir/Practitioner/dr","resource":{"resourceType":"Practitioner"},"request":{"method":"PUT","url":"Practitioner/dr"}},
	 {"resource":{"resourceType":"Observation","subject":{"reference":"urn:uuid:p"},
	   "encounter":{"reference":"urn:uuid:e","display":"urn:uuid:p"},
	   "performer":[{"reference":"http://x.org/fhir/Practitioner/dr"},{"reference":"urn:uuid:nowhere"},{"reference":"#c1"}],
	   "contained":[{"resourceType":"Device","id":"c1","owner":{"reference":"urn:uuid:p"}}],
	   "note":[{"text":"\"reference\":\"urn:uuid:p\""}]},
	  "request":{"method":"POST","url":"Observation"}}]}`
	b, err := ParseBundle([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range b.Entries {
		if e.Err != nil {
			t.Fatalf("entry %d: %v", e.Index, e.Err)
		}
	}
	enc := b.Entries[1]
	if enc.ID == "" || !ValidID(enc.ID) || enc.Resource.ID != "" {
		t.Fatalf("POST without id: minted id %q", enc.ID)
	}
	want := `{"resourceType":"Observation","subject":{"reference":"Patient/p"},` +
		`"encounter":{"reference":"Encounter/` + enc.ID + `","display":"urn:uuid:p"},` +
		`"performer":[{"reference":"Practitioner/dr"},{"reference":"urn:uuid:nowhere"},{"reference":"#c1"}],` +
		`"contained":[{"resourceType":"Device","id":"c1","owner":{"reference":"Patient/p"}}],` +
		`"note":[{"text":"\"reference\":\"urn:uuid:p\""}]}`
	if diff := cmp.Diff(want, string(b.Entries[3].Resource.Raw)); diff != "" {
		t.Errorf("rewritten resource (-want +got):\n%s", diff)
	}
}

func TestParseBundleErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want error
		hint string
	}{
		{"empty", ``, ErrNotJSON, "empty"},
		{"not JSON", `{"resourceType":"Bundle",`, ErrNotJSON, "at byte"},
		{"array", `[]`, ErrNotObject, "an array"},
		{"no resourceType", `{"type":"batch"}`, ErrMissingType, "Bundle"},
		{"a patient", `{"resourceType":"Patient"}`, ErrNotBundle, `"Patient"`},
		{"collection", `{"resourceType":"Bundle","type":"collection"}`, ErrBundleType, `"collection"`},
		{"no type", `{"resourceType":"Bundle"}`, ErrBundleType, "missing"},
		{"entry object", `{"resourceType":"Bundle","type":"batch","entry":{}}`, ErrStructure, "Bundle.entry is an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBundle([]byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseBundle error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.hint) {
				t.Errorf("error %q does not say %q", err, tt.hint)
			}
		})
	}
}

func TestParseBundleEntryErrors(t *testing.T) {
	tests := []struct {
		name  string
		entry string
		want  error
		hint  string
	}{
		{"not an object", `7`, ErrStructure, "a number"},
		{"no request", `{"resource":{"resourceType":"Patient"}}`, ErrStructure, "request is missing"},
		{"GET", `{"request":{"method":"GET","url":"Patient/1"}}`, ErrNotSupported, "GET"},
		{"PATCH", `{"request":{"method":"PATCH","url":"Patient/1"}}`, ErrNotSupported, "PATCH"},
		{"lower-case method", `{"request":{"method":"post","url":"Patient"},"resource":{"resourceType":"Patient"}}`, ErrStructure, `"post"`},
		{"no url", `{"request":{"method":"POST"},"resource":{"resourceType":"Patient"}}`, ErrStructure, "request.url is missing"},
		{"conditional", `{"request":{"method":"PUT","url":"Patient?identifier=x"},"resource":{"resourceType":"Patient"}}`, ErrNotSupported, "conditional"},
		{"ifMatch", `{"request":{"method":"PUT","url":"Patient/1","ifMatch":"W/\"1\""},"resource":{"resourceType":"Patient"}}`, ErrNotSupported, "ifMatch"},
		{"absolute url", `{"request":{"method":"PUT","url":"http://x/Patient/1"},"resource":{"resourceType":"Patient"}}`, ErrStructure, "absolute"},
		{"unknown type in url", `{"request":{"method":"DELETE","url":"Foo/1"}}`, ErrUnknownType, `"Foo"`},
		{"bad id in url", `{"request":{"method":"DELETE","url":"Patient/a_b"}}`, ErrBadID, `"a_b"`},
		{"PUT without id", `{"request":{"method":"PUT","url":"Patient"},"resource":{"resourceType":"Patient"}}`, ErrStructure, "Type/id"},
		{"POST with id in url", `{"request":{"method":"POST","url":"Patient/1"},"resource":{"resourceType":"Patient"}}`, ErrStructure, "resource type"},
		{"no resource", `{"request":{"method":"POST","url":"Patient"}}`, ErrStructure, "resource is missing"},
		{"unknown resource type", `{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Foo"}}`, ErrUnknownType, `"Foo"`},
		{"type mismatch", `{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Observation"}}`, ErrMismatch, `"Observation"`},
		{"id mismatch", `{"request":{"method":"PUT","url":"Patient/1"},"resource":{"resourceType":"Patient","id":"2"}}`, ErrMismatch, `"2"`},
		{"fullUrl twice", `{"fullUrl":"urn:uuid:a","request":{"method":"PUT","url":"Patient/other"},"resource":{"resourceType":"Patient"}}`, ErrStructure, "also the fullUrl of entry 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"resourceType":"Bundle","type":"batch","entry":[
			 {"fullUrl":"urn:uuid:a","request":{"method":"PUT","url":"Patient/a"},"resource":{"resourceType":"Patient"}},` + tt.entry + `]}`
			b, err := ParseBundle([]byte(body))
			if err != nil {
				t.Fatalf("ParseBundle: %v", err)
			}
			if b.Entries[0].Err != nil {
				t.Fatalf("valid entry 0 failed: %v", b.Entries[0].Err)
			}
			err = b.Entries[1].Err
			if !errors.Is(err, tt.want) {
				t.Fatalf("entry error = %v, want %v", err, tt.want)
			}
			var ee *EntryError
			if !errors.As(err, &ee) || ee.Index != 1 || !strings.HasPrefix(err.Error(), "Bundle.entry[1]: ") {
				t.Errorf("error %q does not name entry 1", err)
			}
			if !strings.Contains(err.Error(), tt.hint) {
				t.Errorf("error %q does not say %q", err, tt.hint)
			}
		})
	}
}

func TestParseBundleEmpty(t *testing.T) {
	for _, body := range []string{
		`{"resourceType":"Bundle","type":"batch"}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[]}`,
	} {
		b, err := ParseBundle([]byte(body))
		if err != nil || len(b.Entries) != 0 {
			t.Errorf("ParseBundle(%s) = %d entries, %v", body, len(b.Entries), err)
		}
	}
}
