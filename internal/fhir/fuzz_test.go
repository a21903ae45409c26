package fhir

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"
)

// fuzzSeeds adds, from each Synthea bundle, a small Bundle of its first
// entries and those entries' resources, and a few awkward bodies, to a fuzz
// corpus. Whole bundles (250 KB) would slow the fuzzer to a crawl.
func fuzzSeeds(f *testing.F) {
	f.Helper()
	for _, file := range syntheaFiles(f) {
		body, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var b struct {
			ResourceType string            `json:"resourceType"`
			Type         string            `json:"type"`
			Entry        []json.RawMessage `json:"entry"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			f.Fatal(err)
		}
		b.Entry = b.Entry[:3]
		small, err := json.Marshal(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(small)
		parsed, err := ParseBundle(small)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range parsed.Entries {
			f.Add(e.Resource.Raw)
		}
	}
	for _, s := range []string{
		``, `{}`, `[]`, `null`, `{"resourceType":"Patient"}`, `{"resourceType":"Patient","id":"a","meta":{"versionId":"9"}}`,
		`{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"DELETE","url":"Patient/x"}}]}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:1","request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient"}},{"request":{"method":"POST","url":"Observation"},"resource":{"resourceType":"Observation","subject":{"reference":"urn:uuid:1"}}}]}`,
		`{"resourceType":"P\u0061tient","\u0069d":"x","meta":{}}`, `{"a":"\"}"}`, "{\"resourceType\" : \"Patient\" ,\n\"x\":[ 1 ,{ } ] }",
	} {
		f.Add([]byte(s))
	}
}

// oneLine fails unless b is valid JSON on one line.
func oneLine(t *testing.T, what string, b []byte) {
	t.Helper()
	if !json.Valid(b) || bytes.ContainsAny(b, "\r\n") {
		t.Fatalf("%s is not one line of valid JSON: %q", what, b)
	}
}

func FuzzParseResource(f *testing.F) {
	fuzzSeeds(f)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseResource(body)
		if err != nil {
			if IssueCode(err) == IssueInvalid {
				t.Errorf("error %v has no specific issue code", err)
			}
			return
		}
		oneLine(t, "Raw", r.Raw)
		if !IsResourceType(r.Type) || (r.ID != "" && !ValidID(r.ID)) {
			t.Fatalf("accepted %s/%s", r.Type, r.ID)
		}
		stamped := r.Stamp("new-id", "12", at)
		oneLine(t, "Stamp", stamped)
		again, err := ParseResource(stamped)
		if err != nil {
			t.Fatalf("stamped resource does not parse: %v\n%s", err, stamped)
		}
		if again.Type != r.Type || again.ID != "new-id" {
			t.Fatalf("stamped resource is %s/%s", again.Type, again.ID)
		}
		if v, lu := Meta(stamped); v != "12" || !lu.Equal(at) {
			t.Fatalf("stamped meta is %q %s: %s", v, lu, stamped)
		}
	})
}

func FuzzSetMeta(f *testing.F) {
	fuzzSeeds(f)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := SetMeta(body, "3", at)
		if err != nil {
			return
		}
		oneLine(t, "SetMeta", out)
		if v, lu := Meta(out); v != "3" || !lu.Equal(at) {
			t.Fatalf("meta is %q %s: %s", v, lu, out)
		}
	})
}

func FuzzParseBundle(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := ParseBundle(body)
		if err != nil {
			return
		}
		if b.Type != BundleBatch && b.Type != BundleTransaction {
			t.Fatalf("accepted Bundle type %q", b.Type)
		}
		for i, e := range b.Entries {
			if e.Index != i {
				t.Fatalf("entry %d has index %d", i, e.Index)
			}
			if e.Err != nil {
				continue
			}
			if !IsResourceType(e.Type) || !ValidID(e.ID) {
				t.Fatalf("entry %d: accepted %s", i, e.Key())
			}
			if e.Method != MethodDelete {
				oneLine(t, "entry resource", e.Resource.Raw)
			}
		}
	})
}

func FuzzParseInstant(f *testing.F) {
	for _, s := range []string{"2025-01-01T00:00:00Z", "2025-01-01T00:00:00.5+05:30", "2025-01-01T10:30Z",
		"2025-01-01", "2025-01", "2025", "2025-01-01T00:00:00", "0000-01-01", "9999-12-31T23:59:59.999999999-23:59", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseInstant(s)
		if err != nil {
			return
		}
		back, err := ParseInstant(tm.Format(time.RFC3339Nano))
		if err != nil || !back.Equal(tm) {
			t.Fatalf("%q parsed to %s, which does not round-trip: %v", s, tm, err)
		}
	})
}
