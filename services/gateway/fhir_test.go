package gateway_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/fhirstore"
	"github.com/jetexport/jetexport/internal/natstest"
	"github.com/jetexport/jetexport/services/gateway"
)

// newFHIRHarness serves a gateway with the real record store.
func newFHIRHarness(tb testing.TB, cfg gateway.Config) *harness {
	tb.Helper()
	a := natstest.Assets(tb, broker.Config{})
	return serveOn(tb, a, cfg, fhirstore.New(a.FHIR, a.JS, time.Now))
}

// outcome is an OperationOutcome as a client reads it.
type outcome struct {
	ResourceType string `json:"resourceType"`
	Issue        []struct {
		Severity    string   `json:"severity"`
		Code        string   `json:"code"`
		Diagnostics string   `json:"diagnostics"`
		Expression  []string `json:"expression"`
	} `json:"issue"`
}

func wantOutcome(tb testing.TB, r response, status int, code string, mention ...string) outcome {
	tb.Helper()
	if r.status != status {
		tb.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/fhir+json" {
		tb.Errorf("Content-Type %q, want application/fhir+json", ct)
	}
	var o outcome
	if err := json.Unmarshal(r.body, &o); err != nil || o.ResourceType != "OperationOutcome" || len(o.Issue) == 0 {
		tb.Fatalf("not an OperationOutcome: %s", r.body)
	}
	if code != "" && o.Issue[0].Code != code {
		tb.Errorf("issue code %q, want %q (%s)", o.Issue[0].Code, code, o.Issue[0].Diagnostics)
	}
	for _, m := range mention {
		if !strings.Contains(o.Issue[0].Diagnostics, m) {
			tb.Errorf("diagnostics %q do not mention %q", o.Issue[0].Diagnostics, m)
		}
	}
	return o
}

type resource struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Meta         struct {
		VersionID   string `json:"versionId"`
		LastUpdated string `json:"lastUpdated"`
	} `json:"meta"`
	Gender string `json:"gender"`
}

func decodeResource(tb testing.TB, r response, status int) resource {
	tb.Helper()
	if r.status != status {
		tb.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	var res resource
	if err := json.Unmarshal(r.body, &res); err != nil {
		tb.Fatalf("body: %v: %s", err, r.body)
	}
	return res
}

func TestFHIRRecords(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{})
	test, _ := h.key("acme", events.ModeTest)
	live, _ := h.key("acme", events.ModeLive)
	fhirReq := func(method, path, key, body string) response {
		return h.do(request{method: method, path: path, key: key, contentType: "application/fhir+json", body: []byte(body)})
	}

	r := fhirReq("PUT", "/fhir/Patient/p1", test, `{"resourceType":"Patient","id":"p1","gender":"female"}`)
	res := decodeResource(t, r, 201)
	if res.ID != "p1" || res.Meta.VersionID != "1" || res.Meta.LastUpdated == "" {
		t.Fatalf("created %+v", res)
	}
	if r.header.Get("ETag") != `W/"1"` || r.header.Get("Location") != h.url+"/fhir/Patient/p1/_history/1" ||
		r.header.Get("Content-Type") != "application/fhir+json" || r.header.Get("Last-Modified") == "" {
		t.Errorf("headers %v", r.header)
	}
	r = h.do(request{method: "PUT", path: "/fhir/Patient/p1", key: test, contentType: "application/json",
		body: []byte(`{"resourceType":"Patient","gender":"male"}`)})
	if res := decodeResource(t, r, 200); res.Meta.VersionID != "2" || res.Gender != "male" || r.header.Get("ETag") != `W/"2"` {
		t.Fatalf("updated %+v, headers %v", res, r.header)
	}
	if res := decodeResource(t, fhirReq("GET", "/fhir/Patient/p1", test, ""), 200); res.Meta.VersionID != "2" {
		t.Fatalf("read %+v", res)
	}
	r = fhirReq("POST", "/fhir/Observation", test, `{"resourceType":"Observation","status":"final"}`)
	obs := decodeResource(t, r, 201)
	if obs.ID == "" || !strings.HasPrefix(r.header.Get("Location"), h.url+"/fhir/Observation/"+obs.ID+"/_history/1") {
		t.Fatalf("create: %+v, Location %q", obs, r.header.Get("Location"))
	}

	// A live key does not see test records.
	wantOutcome(t, fhirReq("GET", "/fhir/Patient/p1", live, ""), 404, "not-found")

	if r := fhirReq("DELETE", "/fhir/Patient/p1", test, ""); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	wantOutcome(t, fhirReq("GET", "/fhir/Patient/p1", test, ""), 410, "deleted")
	if r := fhirReq("DELETE", "/fhir/Patient/never", test, ""); r.status != 204 {
		t.Fatalf("delete of nothing: %d %s", r.status, r.body)
	}

	big := `{"resourceType":"Patient","text":"` + strings.Repeat("x", 2<<20) + `"}`
	tests := []struct {
		name, method, path, contentType, body string
		status                                int
		code                                  string
		mention                               []string
	}{
		{"unknown type in URL", "PUT", "/fhir/Foo/1", "", `{"resourceType":"Foo","id":"1"}`, 400, "not-supported", []string{"Foo"}},
		{"type mismatch", "PUT", "/fhir/Patient/1", "", `{"resourceType":"Observation","id":"1"}`, 400, "value", []string{"Observation", "Patient"}},
		{"id mismatch", "PUT", "/fhir/Patient/1", "", `{"resourceType":"Patient","id":"2"}`, 400, "value", []string{`"2"`, `"1"`}},
		{"not a resource", "PUT", "/fhir/Patient/1", "", `{"name":"x"}`, 400, "required", []string{"resourceType"}},
		{"unknown resourceType", "POST", "/fhir/Patient", "", `{"resourceType":"Pateint"}`, 400, "", []string{"Pateint"}},
		{"not JSON", "POST", "/fhir/Patient", "", `<Patient/>`, 400, "structure", nil},
		{"bad id", "PUT", "/fhir/Patient/a_b", "", `{"resourceType":"Patient"}`, 400, "value", []string{"a_b"}},
		{"wrong content type", "PUT", "/fhir/Patient/1", "text/xml", `{"resourceType":"Patient"}`, 415, "not-supported", []string{"application/fhir+json"}},
		{"too large for a record", "PUT", "/fhir/Patient/1", "", big, 413, "too-long", nil},
		{"bundle not a bundle", "POST", "/fhir", "", `{"resourceType":"Patient"}`, 400, "", nil},
		{"unknown record", "GET", "/fhir/Patient/nope", "", "", 404, "not-found", []string{"Patient/nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			if ct == "" {
				ct = "application/fhir+json"
			}
			r := h.do(request{method: tt.method, path: tt.path, key: test, contentType: ct, body: []byte(tt.body)})
			wantOutcome(t, r, tt.status, tt.code, tt.mention...)
		})
	}
}

func TestFHIRAuthAndLimits(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{FHIRBodyLimit: 4 << 10, RateLimit: 2})
	plain, _ := h.key("acme", events.ModeTest)
	wantOutcome(t, h.do(request{method: "GET", path: "/fhir/Patient/1"}), 401, "login", "x-api-key")
	wantOutcome(t, h.do(request{method: "GET", path: "/fhir/Patient/1", key: "clk_live_nope"}), 401, "login")
	wantOutcome(t, h.do(request{method: "POST", path: "/fhir", key: plain, contentType: "application/fhir+json",
		body: []byte(`{"resourceType":"Bundle","pad":"` + strings.Repeat("x", 5<<10) + `"}`)}), 413, "too-costly")
	// Beyond every limit the HTTP server itself refuses the body: still an OperationOutcome.
	// It answers as soon as it reads the Content-Length, so send only that.
	wantOutcome(t, h.rawHead("PUT", "/fhir/Patient/1", 2<<20), 413, "too-costly")
	wantOutcome(t, h.do(request{method: "GET", path: "/fhir/Patient/1", key: plain}), 404, "not-found")
	r := h.do(request{method: "GET", path: "/fhir/Patient/1", key: plain})
	wantOutcome(t, r, 429, "throttled")
	if r.header.Get("Retry-After") == "" || r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("429 headers %v", r.header)
	}
}

func TestFHIRBundle(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{})
	plain, _ := h.key("acme", events.ModeTest)
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"fullUrl":"urn:uuid:11111111-1111-1111-1111-111111111111","resource":{"resourceType":"Patient","id":"pat-1"},
	  "request":{"method":"PUT","url":"Patient/pat-1"}},
	 {"resource":{"resourceType":"Encounter","id":"enc-1","subject":{"reference":"urn:uuid:11111111-1111-1111-1111-111111111111"}},
	  "request":{"method":"PUT","url":"Encounter/enc-1"}}]}`
	r := h.do(request{method: "POST", path: "/fhir", key: plain, contentType: "application/fhir+json", body: []byte(bundle)})
	if r.status != 200 || r.header.Get("Content-Type") != "application/fhir+json" {
		t.Fatalf("bundle: %d %s", r.status, r.body)
	}
	var out struct {
		Type  string `json:"type"`
		Entry []struct {
			Response struct {
				Status   string `json:"status"`
				Location string `json:"location"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || out.Type != "transaction-response" || len(out.Entry) != 2 ||
		out.Entry[0].Response.Status != "201 Created" {
		t.Fatalf("response bundle: %s", r.body)
	}
	enc := h.do(request{method: "GET", path: "/fhir/Encounter/enc-1", key: plain})
	if enc.status != 200 || !strings.Contains(string(enc.body), `"reference":"Patient/pat-1"`) {
		t.Fatalf("encounter: %d %s", enc.status, enc.body)
	}
}

// panicky is a record store with a bug: it panics.
type panicky struct{ gateway.RecordStore }

func (panicky) Get(context.Context, events.Tenant, string, string) (fhirstore.Result, error) {
	panic("bug in the store")
}

func TestPanicIsRecovered(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	h := serveOn(t, a, gateway.Config{}, panicky{})
	plain, _ := h.key("acme", events.ModeTest)
	wantOutcome(t, h.do(request{method: "GET", path: "/fhir/Patient/1", key: plain}), 500, "exception", "internal error")
	// The server goes on answering.
	wantError(t, h.do(request{method: "GET", path: "/v1/bulk/jobs/job_01JNM0000000000000000000AA", key: plain}), 404, "job_not_found")
}
