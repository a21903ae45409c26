package gateway_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/services/gateway"
)

// TestBulkStatus walks one export through its status URL: the first poll
// is 202 even when the job is done, polls faster than the minimum interval
// get 429, the manifest has fresh signed URLs on every fetch, and the files
// stream as application/fhir+ndjson, gzip on request.
func TestBulkStatus(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{})
	plain, key := h.key("acme", events.ModeTest)
	other, _ := h.key("globex", events.ModeTest)
	r, id := h.kickoff(cred{key: plain}, "/fhir/$export?_type=Patient,Observation", fhirHeaders)
	if r.status != 202 {
		t.Fatalf("kick-off: %d %s", r.status, r.body)
	}
	status := func(c cred) response { return h.do(c.apply(request{method: "GET", path: "/fhir/bulkstatus/" + id})) }
	steps := []struct {
		name    string
		before  func()
		c       cred
		status  int
		check   func(t *testing.T, r response)
		advance time.Duration
	}{
		{name: "first poll", c: cred{key: plain}, status: 202, check: running("queued")},
		{name: "too soon", c: cred{key: plain}, status: 429, check: func(t *testing.T, r response) {
			if r.header.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q, want 1", r.header.Get("Retry-After"))
			}
			wantOutcome(t, r, 429, "throttled", "poll at most every 1s")
		}, advance: 1100 * time.Millisecond},
		{name: "another tenant", c: cred{key: other}, status: 404},
		{name: "processing", before: func() {
			h.publishEvent(key.Tenant, id, &events.ExportStarted{WorkerID: "w", Attempt: 1, TransactionTime: h.clock.Now(),
				Totals: map[string]int64{"Patient": 4, "Observation": 6}})
			h.project(key.Tenant, id)
		}, c: cred{key: plain}, status: 202, check: running("0% (0 resources written)"), advance: time.Second},
		{name: "complete", before: func() {
			h.complete(key.Tenant, id, []part{{"Patient", 1, ndjson("Patient", 0, 2)}, {"Patient", 2, ndjson("Patient", 2, 2)},
				{"Observation", 1, ndjson("Observation", 0, 6)}})
		}, c: cred{key: plain}, status: 200, check: func(t *testing.T, r response) {
			m := decodeManifest(t, r)
			if m.Request != h.url+"/fhir/$export?_type=Patient,Observation" || m.RequiresAccessToken || m.TransactionTime == "" ||
				len(m.Output) != 3 || len(m.Error) != 0 {
				t.Fatalf("manifest %+v", m)
			}
			exp, err := http.ParseTime(r.header.Get("Expires"))
			if err != nil || exp.Sub(h.clock.Now()) > time.Hour || exp.Sub(h.clock.Now()) < 59*time.Minute {
				t.Errorf("Expires %q, want an hour from now", r.header.Get("Expires"))
			}
			wantCounts := []int64{2, 2, 6}
			for i, f := range m.Output {
				if !strings.HasPrefix(f.URL, h.url+"/fhir/bulkfiles/acme_test/"+id+"/") || f.Count != wantCounts[i] {
					t.Errorf("output[%d] = %+v", i, f)
				}
				got := h.do(request{method: "GET", path: f.URL})
				if got.status != 200 || got.header.Get("Content-Type") != "application/fhir+ndjson" || int64(len(lines(got.body))) != f.Count {
					t.Errorf("GET output[%d]: %d %s, %d lines", i, got.status, got.header.Get("Content-Type"), len(lines(got.body)))
				}
				for _, l := range lines(got.body) {
					if !strings.Contains(l, `"resourceType":"`+f.Type+`"`) {
						t.Errorf("output[%d] (%s) holds %s", i, f.Type, l)
					}
				}
			}
			z := h.do(request{method: "GET", path: m.Output[2].URL, header: map[string]string{"Accept-Encoding": "gzip"}})
			zr, err := gzip.NewReader(bytes.NewReader(z.body))
			if err != nil || z.header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("gzip download: %v, %q", err, z.header.Get("Content-Encoding"))
			}
			if plainBody, _ := io.ReadAll(zr); len(lines(plainBody)) != 6 {
				t.Errorf("gzip download holds %d lines, want 6", len(lines(plainBody)))
			}
			if got := h.do(request{method: "GET", path: strings.Replace(m.Output[0].URL, "Patient.1", "Patient.2", 1)}); got.status != 403 {
				t.Errorf("a URL with another file's signature: %d, want 403", got.status)
			}
		}, advance: time.Minute},
		{name: "fresh URLs on a new fetch", c: cred{key: plain}, status: 200, check: func(t *testing.T, r response) {
			if m := decodeManifest(t, r); !strings.Contains(m.Output[0].URL, "exp="+strconv.FormatInt(h.clock.Now().Add(time.Hour).Unix(), 10)) {
				t.Errorf("URL %s does not expire an hour from now", m.Output[0].URL)
			}
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.before != nil {
				st.before()
			}
			r := status(st.c)
			if r.status != st.status {
				t.Fatalf("status %d, want %d: %s", r.status, st.status, r.body)
			}
			if st.check != nil {
				st.check(t, r)
			}
			h.clock.Add(st.advance)
		})
	}
}

// running checks a 202 of a running export.
func running(progress string) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		if got := r.header.Get("X-Progress"); got != progress || len(got) >= 100 {
			t.Errorf("X-Progress %q, want %q", got, progress)
		}
		if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("Retry-After %q, want a number of seconds", r.header.Get("Retry-After"))
		}
		if len(r.body) != 0 {
			t.Errorf("a 202 status answer has the body %q; clients parse it as JSON", r.body)
		}
	}
}

// TestBulkStatusFirstPoll: a job that finished before its first poll still
// answers 202 first.
func TestBulkStatusFirstPoll(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{})
	plain, key := h.key("acme", events.ModeTest)
	_, id := h.kickoff(cred{key: plain}, "/fhir/$export?_type=Patient", fhirHeaders)
	h.complete(key.Tenant, id, []part{{"Patient", 1, ndjson("Patient", 0, 1)}})
	r := h.do(request{method: "GET", path: "/fhir/bulkstatus/" + id, key: plain})
	running("complete: 1 resources in 1 files")(t, r)
	if r.status != 202 {
		t.Fatalf("first poll: %d, want 202", r.status)
	}
	h.clock.Add(time.Second)
	decodeManifest(t, h.do(request{method: "GET", path: "/fhir/bulkstatus/" + id, key: plain}))
}

// TestBulkStatusEnds: failed, cancelled and unknown exports.
func TestBulkStatusEnds(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{})
	plain, key := h.key("acme", events.ModeTest)
	start := func(end events.Payload) string {
		_, id := h.kickoff(cred{key: plain}, "/fhir/$export?_type=Patient", fhirHeaders)
		h.publishEvent(key.Tenant, id, end)
		h.project(key.Tenant, id)
		if r := h.do(request{method: "GET", path: "/fhir/bulkstatus/" + id, key: plain}); r.status != 202 {
			t.Fatalf("first poll: %d", r.status)
		}
		return id
	}
	failed := start(&events.ExportFailed{Code: "group_not_found", Message: "Group/g does not exist", Attempts: 1})
	cancelled := start(&events.ExportCancelRequested{By: "key_x"})
	h.clock.Add(time.Second)
	tests := []struct {
		name, id      string
		status        int
		issue, detail string
	}{
		{name: "failed", id: failed, status: 500, issue: "exception", detail: "Group/g does not exist"},
		{name: "cancelled", id: cancelled, status: 404, issue: "not-found", detail: "cancelled"},
		{name: "unknown", id: "job_01JNM0000000000000000000AA", status: 404, issue: "not-found"},
		{name: "malformed", id: "x", status: 404, issue: "not-found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOutcome(t, h.do(request{method: "GET", path: "/fhir/bulkstatus/" + tt.id, key: plain}), tt.status, tt.issue, tt.detail)
		})
	}
}

// TestBulkDelete: DELETE cancels a running export and discards a finished
// one; afterwards its status and file URLs answer 404.
func TestBulkDelete(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{})
	plain, key := h.key("acme", events.ModeTest)
	_, running := h.kickoff(cred{key: plain}, "/fhir/$export?_type=Patient", fhirHeaders)
	_, done := h.kickoff(cred{key: plain}, "/fhir/$export?_type=Patient", fhirHeaders)
	h.complete(key.Tenant, done, []part{{"Patient", 1, ndjson("Patient", 0, 3)}})
	h.do(request{method: "GET", path: "/fhir/bulkstatus/" + done, key: plain})
	h.clock.Add(time.Second)
	m := decodeManifest(t, h.do(request{method: "GET", path: "/fhir/bulkstatus/" + done, key: plain}))
	for name, id := range map[string]string{"running": running, "completed": done} {
		t.Run(name, func(t *testing.T) {
			wantOutcome(t, h.do(request{method: "DELETE", path: "/fhir/bulkstatus/" + id, key: plain}), 202, "informational")
			if ev := h.project(key.Tenant, id); ev.Status != events.StatusCancelled {
				t.Errorf("job status %s after DELETE, want cancelled", ev.Status)
			}
			h.clock.Add(time.Second)
			wantOutcome(t, h.do(request{method: "GET", path: "/fhir/bulkstatus/" + id, key: plain}), 404, "not-found", "deleted")
			wantOutcome(t, h.do(request{method: "DELETE", path: "/fhir/bulkstatus/" + id, key: plain}), 404, "not-found")
		})
	}
	if r := h.do(request{method: "GET", path: m.Output[0].URL}); r.status != 404 {
		t.Errorf("file of a deleted export: %d, want 404", r.status)
	}
}

// TestBulkFilesRequireToken: with RequiresAccessToken the file URLs need
// the tenant's credentials besides their signature.
func TestBulkFilesRequireToken(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{FHIR: gateway.FHIRConfig{RequiresAccessToken: true}})
	plain, key := h.key("acme", events.ModeTest)
	other, _ := h.key("globex", events.ModeTest)
	kp, client := h.registerClient(plain, "ES384", "system/*.read")
	token := h.bearer(kp, client, "system/*.rs")
	_, id := h.kickoff(cred{bearer: token}, "/fhir/$export?_type=Patient", fhirHeaders)
	h.complete(key.Tenant, id, []part{{"Patient", 1, ndjson("Patient", 0, 3)}})
	h.do(cred{bearer: token}.apply(request{method: "GET", path: "/fhir/bulkstatus/" + id}))
	h.clock.Add(time.Second)
	m := decodeManifest(t, h.do(cred{bearer: token}.apply(request{method: "GET", path: "/fhir/bulkstatus/" + id})))
	if !m.RequiresAccessToken {
		t.Fatal("manifest requiresAccessToken is false")
	}
	tests := []struct {
		name   string
		c      cred
		status int
	}{
		{name: "no credentials", status: 401},
		{name: "bearer", c: cred{bearer: token}, status: 200},
		{name: "tenant's key", c: cred{key: plain}, status: 200},
		{name: "another tenant's key", c: cred{key: other}, status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := h.do(tt.c.apply(request{method: "GET", path: m.Output[0].URL})); r.status != tt.status {
				t.Errorf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
		})
	}
}

// TestBulkWarningsFile: what a lenient kick-off ignored is listed in an
// OperationOutcome file under the manifest's error.
func TestBulkWarningsFile(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{})
	plain, key := h.key("acme", events.ModeTest)
	_, id := h.kickoff(cred{key: plain}, "/fhir/$export?_type=Patient&_count=5&_typeFilter=Patient%3Fnosuch%3D1", lenientHeaders)
	h.complete(key.Tenant, id, []part{{"Patient", 1, ndjson("Patient", 0, 1)}})
	h.do(request{method: "GET", path: "/fhir/bulkstatus/" + id, key: plain})
	h.clock.Add(time.Second)
	m := decodeManifest(t, h.do(request{method: "GET", path: "/fhir/bulkstatus/" + id, key: plain}))
	if len(m.Error) != 1 || m.Error[0].Type != "OperationOutcome" {
		t.Fatalf("manifest error %+v, want one OperationOutcome file", m.Error)
	}
	r := h.do(request{method: "GET", path: m.Error[0].URL})
	ls := lines(r.body)
	if r.status != 200 || len(ls) != 2 || !strings.Contains(ls[0], `"severity":"warning"`) || !strings.Contains(string(r.body), "_count") {
		t.Errorf("warnings file: %d %s", r.status, r.body)
	}
}
