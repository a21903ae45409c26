package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/smart"
)

// fhirHeaders are the headers every kick-off sends.
var fhirHeaders = map[string]string{"Accept": "application/fhir+json", "Prefer": "respond-async"}

// lenientHeaders ask for handling=lenient as well.
var lenientHeaders = map[string]string{"Accept": "application/fhir+json", "Prefer": "respond-async, handling=lenient"}

// cred is how a test request authenticates: an API key or a bearer token.
type cred struct{ key, bearer string }

func (c cred) apply(r request) request {
	r.key = c.key
	if c.bearer != "" {
		h := map[string]string{}
		for k, v := range r.header {
			h[k] = v
		}
		h["Authorization"] = "Bearer " + c.bearer
		r.header = h
	}
	return r
}

// kickoff sends a GET kick-off to path (with its query) and returns the
// answer and, for a 202, the job id from Content-Location.
func (h *harness) kickoff(c cred, path string, header map[string]string) (response, string) {
	h.tb.Helper()
	r := h.do(c.apply(request{method: "GET", path: path, header: header}))
	return r, h.jobOf(r)
}

// kickoffPOST sends a POST kick-off with a Parameters body.
func (h *harness) kickoffPOST(c cred, path, body string, header map[string]string) (response, string) {
	h.tb.Helper()
	r := h.do(c.apply(request{method: "POST", path: path, header: header, contentType: "application/fhir+json", body: []byte(body)}))
	return r, h.jobOf(r)
}

// jobOf checks a kick-off's 202 and returns the job id its Content-Location names.
func (h *harness) jobOf(r response) string {
	h.tb.Helper()
	if r.status != 202 {
		return ""
	}
	loc := r.header.Get("Content-Location")
	id, ok := strings.CutPrefix(loc, h.url+"/fhir/bulkstatus/")
	if !ok || !events.ValidJobID(id) {
		h.tb.Fatalf("Content-Location %q is not an absolute status URL of this gateway", loc)
	}
	return id
}

// requested returns the ExportRequested a kick-off published.
func (h *harness) requested(t events.Tenant, jobID string) events.ExportRequested {
	h.tb.Helper()
	ev, err := broker.LastEvent(context.Background(), h.assets.Stream, t, jobID, events.KindRequested)
	if err != nil {
		h.tb.Fatalf("requested event of %s: %v", jobID, err)
	}
	return *ev.Data.(*events.ExportRequested)
}

// registerClient registers a SMART client of key's tenant through POST
// /v1/clients and returns its key pair and id.
func (h *harness) registerClient(key, alg, scope string) (smart.KeyPair, string) {
	h.tb.Helper()
	kp, err := smart.GenerateKey(alg)
	if err != nil {
		h.tb.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"name": "test", "scope": scope, "jwks": json.RawMessage(kp.PublicJWKS)})
	r := h.do(request{method: "POST", path: "/v1/clients", key: key, contentType: "application/json", body: body})
	if r.status != 201 {
		h.tb.Fatalf("register client: %d %s", r.status, r.body)
	}
	var v struct {
		ClientID string `json:"clientId"`
	}
	if err := json.Unmarshal(decodeEnvelope(h.tb, r).Data, &v); err != nil || v.ClientID == "" {
		h.tb.Fatalf("register client: %s", r.body)
	}
	return kp, v.ClientID
}

// tokenRequest posts a token request with the given form.
func (h *harness) tokenRequest(form url.Values) response {
	h.tb.Helper()
	return h.do(request{method: "POST", path: "/auth/token", contentType: "application/x-www-form-urlencoded",
		body: []byte(form.Encode())})
}

// tokenForm is a token request signed with kp for clientID.
func (h *harness) tokenForm(kp smart.KeyPair, clientID, scope string) url.Values {
	h.tb.Helper()
	a, err := smart.NewAssertion(kp.PrivateJWK, clientID, h.url+"/auth/token", h.clock.Now())
	if err != nil {
		h.tb.Fatal(err)
	}
	return url.Values{"grant_type": {"client_credentials"}, "scope": {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
}

// bearer gets an access token for clientID with scope.
func (h *harness) bearer(kp smart.KeyPair, clientID, scope string) string {
	h.tb.Helper()
	r := h.tokenRequest(h.tokenForm(kp, clientID, scope))
	var tok smart.Token
	if r.status != 200 || json.Unmarshal(r.body, &tok) != nil || tok.AccessToken == "" {
		h.tb.Fatalf("token: %d %s", r.status, r.body)
	}
	return tok.AccessToken
}

// bulkManifest is the complete-status answer as a client reads it.
type bulkManifest struct {
	TransactionTime     string `json:"transactionTime"`
	Request             string `json:"request"`
	RequiresAccessToken bool   `json:"requiresAccessToken"`
	Output              []struct {
		Type  string `json:"type"`
		URL   string `json:"url"`
		Count int64  `json:"count"`
	} `json:"output"`
	Error []struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	} `json:"error"`
}

func decodeManifest(tb testing.TB, r response) bulkManifest {
	tb.Helper()
	if r.status != 200 {
		tb.Fatalf("status %d, want 200 and the manifest: %s", r.status, r.body)
	}
	var m bulkManifest
	if err := json.Unmarshal(r.body, &m); err != nil {
		tb.Fatalf("manifest: %v: %s", err, r.body)
	}
	return m
}

// lines returns the non-empty lines of an NDJSON body.
func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
