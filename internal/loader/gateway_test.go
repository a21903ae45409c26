package loader

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const testKey = "clk_test_good"

// fakeGateway answers like the jetexport gateway's contract, just enough
// for the client: FHIR writes, the export kick-off and status, and signed
// file downloads. It records what it was sent.
type fakeGateway struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	records  map[string]json.RawMessage // Type/id -> resource
	requests []seen
	// faults are the statuses the next requests get, in order (429 and
	// 503 with Retry-After: 0).
	faults []int
	nextID int

	// Export side.
	job       Job
	polls     int // polls before the job completes
	files     map[string]string
	gzipFiles bool
	kickoff   []int // statuses for the next kick-offs, before a 202
}

// seen is one request the fake was sent.
type seen struct {
	Method, Path string
	Entries      int // entries of a Bundle body
	Methods      []string
	Gzip         bool
	Key          string
}

func newFakeGateway(tb testing.TB) *fakeGateway {
	tb.Helper()
	g := &fakeGateway{t: tb, records: make(map[string]json.RawMessage), files: make(map[string]string)}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	tb.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGateway) URL() string { return g.srv.URL }

func (g *fakeGateway) seen() []seen {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]seen(nil), g.requests...)
}

func (g *fakeGateway) record(id string) json.RawMessage {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.records[id]
}

func (g *fakeGateway) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.records)
}

func outcome(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":%q}]}`, msg)
}

func envelopeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q,"details":[]},"meta":{"status":%d}}`, code, msg, status)
}

func envelopeData(w http.ResponseWriter, status int, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"data": data, "meta": map[string]any{"status": status}})
	w.Write(b)
}

func (g *fakeGateway) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	defer g.mu.Unlock()
	s := seen{Method: r.Method, Path: r.URL.Path, Gzip: strings.Contains(r.Header.Get("Accept-Encoding"), "gzip"), Key: r.Header.Get("X-Api-Key")}
	if len(g.faults) > 0 {
		status := g.faults[0]
		g.faults = g.faults[1:]
		g.requests = append(g.requests, s)
		w.Header().Set("Retry-After", "0")
		outcome(w, status, "try again")
		return
	}
	if strings.HasPrefix(r.URL.Path, "/files/") {
		g.requests = append(g.requests, s)
		g.serveFile(w, r)
		return
	}
	if s.Key != testKey {
		g.requests = append(g.requests, s)
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			envelopeError(w, http.StatusUnauthorized, "unauthorized", "missing or unknown API key")
			return
		}
		outcome(w, http.StatusUnauthorized, "missing or unknown API key")
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/fhir":
		g.bundle(w, body, &s)
	case strings.HasPrefix(r.URL.Path, "/fhir/"):
		g.single(w, r, body)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/bulk/export":
		g.kick(w, body)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/bulk/jobs/"):
		g.status(w, strings.TrimPrefix(r.URL.Path, "/v1/bulk/jobs/"))
	default:
		outcome(w, http.StatusNotFound, "no route "+r.URL.Path)
	}
	g.requests = append(g.requests, s)
}

type fakeEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Request  struct {
		Method string `json:"method"`
		URL    string `json:"url"`
	} `json:"request"`
}

// store checks and keeps one resource; it returns a 4xx message or "".
func (g *fakeGateway) store(raw json.RawMessage, wantType, wantID string) (string, string) {
	var h struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	if err := json.Unmarshal(raw, &h); err != nil || h.ResourceType == "" {
		return "", "not a FHIR resource: no resourceType"
	}
	if h.ResourceType == "Unknown" {
		return "", "unknown resource type Unknown"
	}
	if wantType != "" && h.ResourceType != wantType {
		return "", fmt.Sprintf("resourceType %s does not match the URL's %s", h.ResourceType, wantType)
	}
	id := h.ID
	if wantID != "" {
		if id != wantID {
			return "", fmt.Sprintf("id %q does not match the URL's %q", id, wantID)
		}
	}
	if id == "" {
		g.nextID++
		id = "gen" + strconv.Itoa(g.nextID)
	}
	g.records[h.ResourceType+"/"+id] = append(json.RawMessage(nil), raw...)
	return h.ResourceType + "/" + id, ""
}

func (g *fakeGateway) bundle(w http.ResponseWriter, body []byte, s *seen) {
	var b struct {
		ResourceType string      `json:"resourceType"`
		Type         string      `json:"type"`
		Entry        []fakeEntry `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.ResourceType != "Bundle" {
		outcome(w, http.StatusBadRequest, "body is not a Bundle")
		return
	}
	s.Entries = len(b.Entry)
	for _, e := range b.Entry {
		s.Methods = append(s.Methods, e.Request.Method)
	}
	if b.Type == "transaction" {
		for i, e := range b.Entry {
			var h struct{ ResourceType string }
			json.Unmarshal(e.Resource, &h)
			if h.ResourceType == "Unknown" {
				outcome(w, http.StatusBadRequest, fmt.Sprintf("Bundle.entry[%d]: unknown resource type Unknown", i))
				return
			}
		}
	}
	type resp struct {
		Status   string          `json:"status"`
		Location string          `json:"location,omitempty"`
		Outcome  json.RawMessage `json:"outcome,omitempty"`
	}
	out := make([]map[string]resp, len(b.Entry))
	for i, e := range b.Entry {
		wantType, wantID := "", ""
		if e.Request.Method == "PUT" {
			wantType, wantID, _ = strings.Cut(e.Request.URL, "/")
		}
		loc, bad := g.store(e.Resource, wantType, wantID)
		if bad != "" {
			o := fmt.Sprintf(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":%q}]}`, bad)
			out[i] = map[string]resp{"response": {Status: "400 Bad Request", Outcome: json.RawMessage(o)}}
			continue
		}
		out[i] = map[string]resp{"response": {Status: "201 Created", Location: loc + "/_history/1"}}
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	json.NewEncoder(w).Encode(map[string]any{"resourceType": "Bundle", "type": b.Type + "-response", "entry": out})
}

func (g *fakeGateway) single(w http.ResponseWriter, r *http.Request, body []byte) {
	typ, id, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/fhir/"), "/")
	if r.Method == http.MethodPost && id != "" || r.Method == http.MethodPut && id == "" {
		outcome(w, http.StatusMethodNotAllowed, "wrong method")
		return
	}
	loc, bad := g.store(body, typ, id)
	if bad != "" {
		outcome(w, http.StatusBadRequest, bad)
		return
	}
	w.Header().Set("Location", loc+"/_history/1")
	w.WriteHeader(http.StatusCreated)
	w.Write(g.records[loc])
}

func (g *fakeGateway) kick(w http.ResponseWriter, body []byte) {
	if len(g.kickoff) > 0 {
		status := g.kickoff[0]
		g.kickoff = g.kickoff[1:]
		w.Header().Set("Retry-After", "0")
		envelopeError(w, status, "rate_limited", "slow down")
		return
	}
	var req ExportRequest
	if err := json.Unmarshal(body, &req); err != nil || len(req.ResourceTypes) == 0 {
		envelopeError(w, http.StatusBadRequest, "invalid_request", "resourceTypes is required and must not be empty")
		return
	}
	g.job.ResourceTypes = req.ResourceTypes
	envelopeData(w, http.StatusAccepted, map[string]any{"jobId": g.job.JobID, "status": "pending", "message": "Export job started"})
}

func (g *fakeGateway) status(w http.ResponseWriter, id string) {
	if id != g.job.JobID {
		envelopeError(w, http.StatusNotFound, "not_found", "no export job "+id)
		return
	}
	if g.polls > 0 {
		g.polls--
		w.Header().Set("Retry-After", "0")
		envelopeData(w, http.StatusOK, Job{JobID: id, Status: StatusProcessing, Progress: JobProgress{Resources: 1}})
		return
	}
	envelopeData(w, http.StatusOK, g.job)
}

func (g *fakeGateway) serveFile(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("sig") != "ok" {
		envelopeError(w, http.StatusForbidden, "forbidden", "the download signature is invalid or expired")
		return
	}
	content, ok := g.files[strings.TrimPrefix(r.URL.Path, "/files/")]
	if !ok {
		envelopeError(w, http.StatusNotFound, "not_found", "no such file")
		return
	}
	w.Header().Set("Content-Type", "application/fhir+ndjson")
	if g.gzipFiles && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		z := gzip.NewWriter(w)
		io.WriteString(z, content)
		z.Close()
		return
	}
	io.WriteString(w, content)
}
