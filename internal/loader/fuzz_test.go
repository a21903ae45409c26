package loader

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzServerMessage: whatever a server answers, reading its message
// neither panics nor returns more than a short excerpt of non-JSON.
func FuzzServerMessage(f *testing.F) {
	f.Add([]byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"bad","expression":["Bundle.entry[1]"]}]}`))
	f.Add([]byte(`{"error":{"code":"invalid_request","message":"resourceTypes is required","details":[{"field":"resourceTypes","message":"empty"}]},"meta":{}}`))
	f.Add([]byte(`<html>502 Bad Gateway</html>`))
	f.Add([]byte(`{"resourceType":"OperationOutcome","issue":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, msg := serverMessage(body)
		if !json.Valid(body) && len(msg) > 303 {
			t.Fatalf("message of %d bytes from a non-JSON body", len(msg))
		}
	})
}

// FuzzNDJSON: any file content yields only well-formed batch Bundles, and
// every non-blank line is either sent or reported.
func FuzzNDJSON(f *testing.F) {
	f.Add([]byte("{\"resourceType\":\"Patient\",\"id\":\"a\"}\n{\"resourceType\":\"Observation\"}\n"))
	f.Add([]byte("not json\n\n[1,2]\n{\"resourceType\":\"Patient\",\"id\":\"bad id\"}\r\n"))
	f.Add([]byte("{\"resourceType\":\"Patient\",\"id\":\"a\",\"x\":\"\\u0000\"}"))
	f.Add([]byte("{\"resourceType\":\"Patient\"} {\"resourceType\":\"Patient\"}\n"))
	l, err := New(Config{URL: "http://127.0.0.1:1", Key: "k", BatchSize: 2})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, err := countLines(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		r := l.newRun(nil)
		sent := 0
		err = r.sendLines("f.ndjson", bytes.NewReader(data), func(req request) error {
			var b struct {
				ResourceType string `json:"resourceType"`
				Type         string `json:"type"`
				Entry        []struct {
					Resource map[string]any `json:"resource"`
					Request  struct{ Method, URL string }
				} `json:"entry"`
			}
			if err := json.Unmarshal(req.body, &b); err != nil {
				t.Fatalf("batch body is not JSON: %v\n%s", err, req.body)
			}
			if b.ResourceType != "Bundle" || b.Type != "batch" || len(b.Entry) != len(req.entries) || len(b.Entry) > 2 {
				t.Fatalf("batch %s has %d entries for %d", req.body, len(b.Entry), len(req.entries))
			}
			sent += len(b.Entry)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if sent+r.stats.Failed != lines {
			t.Fatalf("%d lines, %d sent + %d failed", lines, sent, r.stats.Failed)
		}
	})
}

// FuzzDocument: any JSON file is routed without panicking, and rewriting
// its references keeps it valid JSON.
func FuzzDocument(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Group","id":"g","member":[{"entity":{"reference":"urn:uuid:1"}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","id":"1"},"request":{"method":"POST","url":"Patient"}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"DELETE","url":"Patient/1?x=y"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := parseDocument(data)
		if err != nil {
			return
		}
		for i := range d.Entry {
			_ = d.Entry[i].target()
		}
		_ = d.count()
		out, err := rewriteRefs(data, map[string]string{"urn:uuid:1": "Patient/1"})
		if err == nil && !json.Valid(out) {
			t.Fatalf("rewritten document is not JSON: %s", out)
		}
	})
}
