package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/smart"
	"github.com/jetexport/jetexport/services/gateway"
)

// conformance checks real answers of a gateway against api/openapi.yaml.
type conformance struct {
	h       *harness
	doc     *openapi3.T
	router  routers.Router
	covered map[string]bool // operation ids exercised
}

func newConformance(t *testing.T, h *harness) *conformance {
	t.Helper()
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatalf("load api/openapi.yaml: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("api/openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: h.url}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	return &conformance{h: h, doc: doc, router: router, covered: map[string]bool{}}
}

// check sends r, then validates the answer (and, when conforming is true,
// the request) against the document: status documented, headers and body
// matching their schemas. It returns the answer.
func (c *conformance) check(t *testing.T, r request, conforming bool, wantStatus int) response {
	t.Helper()
	resp := c.h.do(r)
	if resp.status != wantStatus {
		t.Fatalf("%s %s: status %d, want %d: %.300s", r.method, r.path, resp.status, wantStatus, resp.body)
	}
	target := r.path
	if !strings.HasPrefix(target, "http") {
		target = c.h.url + target
	}
	req, err := http.NewRequest(r.method, target, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if r.key != "" {
		req.Header.Set("x-api-key", r.key)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s is not in the document: %v", r.method, r.path, err)
	}
	c.covered[route.Operation.OperationID] = true
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if conforming {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s %s: the request does not conform: %v", r.method, r.path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.status,
		Header: resp.header, Body: io.NopCloser(bytes.NewReader(resp.body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s -> %d does not conform: %v\nbody: %.500s", r.method, r.path, resp.status, err, resp.body)
	}
	return resp
}

func TestOpenAPIConformance(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{RateLimit: 1000})
	c := newConformance(t, h)
	plain, key := h.key("acme", events.ModeTest)
	burner, _ := h.key("acme", events.ModeTest)
	revoked, rk := h.key("acme", events.ModeTest)
	if err := h.keys.Revoke(context.Background(), rk.ID); err != nil {
		t.Fatal(err)
	}
	jsonPost := func(body string) request {
		return request{method: "POST", path: "/v1/bulk/export", key: plain, contentType: "application/json", body: []byte(body)}
	}
	get := func(path, k string) request { return request{method: "GET", path: path, key: k} }

	// Start exports and shape their jobs.
	pending := job(t, c.check(t, jsonPost(seedBody), true, 202), 202).JobID
	completed := job(t, c.check(t, jsonPost(`{"resourceTypes":["Patient","Observation"],"webhookUrl":"https://example.com/hook"}`), true, 202), 202).JobID
	h.publishEvent(key.Tenant, completed, &events.WebhookAttempted{Subscription: "sub_1", URL: "https://example.com/hook",
		DeliveryID: "d1", Event: "export.completed", Attempt: 1, StatusCode: 500, Error: "server error",
		NextAttempt: ptr(h.clock.Now().Add(time.Minute))})
	h.complete(key.Tenant, completed, []part{{"Patient", 1, ndjson("Patient", 0, 2)}, {"Observation", 1, ndjson("Observation", 0, 3)}})
	failed := job(t, c.check(t, jsonPost(`{"resourceTypes":["Patient"]}`), true, 202), 202).JobID
	h.publishEvent(key.Tenant, failed, &events.ExportFailed{Code: "internal", Message: "boom", Attempts: 5})
	h.project(key.Tenant, failed)

	// /v1/bulk
	c.check(t, jsonPost(`{"since":"2025-01-01T00:00:00Z"}`), false, 400)
	c.check(t, jsonPost(`{"resourceTypes":["Patient","Foo"]}`), true, 400)
	c.check(t, jsonPost(`{"resourceTypes":["Patient"],"since":"soon"}`), true, 400)
	c.check(t, jsonPost(`{"resourceTypes":`), false, 400)
	c.check(t, request{method: "POST", path: "/v1/bulk/export", key: plain, contentType: "text/plain", body: []byte(seedBody)}, false, 415)
	c.check(t, jsonPost(`{"resourceTypes":["Patient"],"x":"`+strings.Repeat("x", 1<<20)+`"}`), true, 413)
	c.check(t, request{method: "POST", path: "/v1/bulk/export", contentType: "application/json", body: []byte(seedBody)}, false, 401)
	c.check(t, request{method: "POST", path: "/v1/bulk/export", key: revoked, contentType: "application/json", body: []byte(seedBody)}, true, 401)
	for _, id := range []string{pending, completed, failed} {
		c.check(t, get("/v1/bulk/jobs/"+id, plain), true, 200)
	}
	c.check(t, get("/v1/bulk/jobs/job_01JNM0000000000000000000AA", plain), true, 404)
	c.check(t, get("/v1/bulk/jobs/"+pending, ""), false, 401)
	c.check(t, request{method: "DELETE", path: "/v1/bulk/jobs/" + failed, key: plain}, true, 409)

	// Downloads.
	d := job(t, h.do(get("/v1/bulk/jobs/"+completed, plain)), 200)
	c.check(t, get(d.DownloadURL, ""), true, 200)
	c.check(t, get(d.Files[1].URL, ""), true, 200)
	c.check(t, request{method: "GET", path: d.DownloadURL, header: map[string]string{"Accept-Encoding": "gzip"}}, true, 200)
	c.check(t, get(strings.Replace(d.Files[0].URL, "sig=", "sig=x", 1), ""), true, 403)
	h.clock.Add(2 * time.Hour)
	c.check(t, get(d.Files[0].URL, ""), true, 403)
	h.clock.Add(-2 * time.Hour)
	if err := h.assets.Exports.Delete(context.Background(), events.ObjectName(key.Tenant, completed, "Patient", 1)); err != nil {
		t.Fatal(err)
	}
	c.check(t, get(d.Files[0].URL, ""), true, 410)
	c.check(t, request{method: "DELETE", path: "/v1/bulk/jobs/" + completed, key: plain}, true, 202)

	// FHIR records.
	fhirReq := func(method, path, body string) request {
		return request{method: method, path: path, key: plain, contentType: "application/fhir+json", body: []byte(body)}
	}
	c.check(t, fhirReq("PUT", "/fhir/Patient/p1", `{"resourceType":"Patient","id":"p1"}`), true, 201)
	c.check(t, fhirReq("PUT", "/fhir/Patient/p1", `{"resourceType":"Patient","id":"p1","gender":"male"}`), true, 200)
	c.check(t, fhirReq("PUT", "/fhir/Patient/p1", `{"resourceType":"Observation"}`), true, 400)
	c.check(t, request{method: "PUT", path: "/fhir/Patient/p1", key: plain, contentType: "text/xml", body: []byte(`<Patient/>`)}, false, 415)
	c.check(t, fhirReq("POST", "/fhir/Observation", `{"resourceType":"Observation","status":"final"}`), true, 201)
	c.check(t, get("/fhir/Patient/p1", plain), true, 200)
	c.check(t, get("/fhir/Patient/p1", ""), false, 401)
	c.check(t, get("/fhir/Patient/nope", plain), true, 404)
	c.check(t, request{method: "DELETE", path: "/fhir/Patient/p1", key: plain}, true, 204)
	c.check(t, get("/fhir/Patient/p1", plain), true, 410)
	c.check(t, fhirReq("POST", "/fhir", `{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient","id":"p2"},"request":{"method":"PUT","url":"Patient/p2"}}]}`), true, 200)
	c.check(t, fhirReq("POST", "/fhir", `{"resourceType":"Patient"}`), true, 400)

	// SMART Backend Services clients.
	kp, err := smart.GenerateKey(smart.AlgES384)
	if err != nil {
		t.Fatal(err)
	}
	clientReq := func(body string) request {
		return request{method: "POST", path: "/v1/clients", key: plain, contentType: "application/json", body: []byte(body)}
	}
	var registered struct {
		Data struct {
			ClientID string `json:"clientId"`
		} `json:"data"`
	}
	cr := c.check(t, clientReq(`{"name":"nightly","scope":"system/*.read","jwks":`+string(kp.PublicJWKS)+`}`), true, 201)
	if err := json.Unmarshal(cr.body, &registered); err != nil {
		t.Fatal(err)
	}
	c.check(t, clientReq(`{"scope":"system/*.write","jwksUrl":"https://client.example/jwks.json"}`), true, 400)
	c.check(t, get("/v1/clients", plain), true, 200)
	c.check(t, get("/v1/clients", ""), false, 401)
	c.check(t, request{method: "DELETE", path: "/v1/clients/" + registered.Data.ClientID, key: plain}, true, 200)
	c.check(t, request{method: "DELETE", path: "/v1/clients/cli_01JNM4Z8K3W5X9YB2C6D7E8F9G", key: plain}, true, 404)

	// Health, rate limit, and last the log going away.
	c.check(t, get("/healthz", ""), true, 200)

	hook := c.check(t, request{method: "POST", path: "/v1/webhooks", key: plain, contentType: "application/json",
		body: []byte(`{"url":"https://hooks.example.com/jx","events":["export.completed"]}`)}, true, 201)
	var created struct{ Data struct{ ID string } }
	if err := json.Unmarshal(hook.body, &created); err != nil || created.Data.ID == "" {
		t.Fatalf("webhook create answer %s: %v", hook.body, err)
	}
	c.check(t, request{method: "POST", path: "/v1/webhooks", key: plain, contentType: "application/json",
		body: []byte(`{"url":"https://hooks.example.com/jx","events":["export.done"]}`)}, false, 400)
	c.check(t, get("/v1/webhooks", plain), true, 200)
	c.check(t, get("/v1/webhooks/default-secret", plain), true, 200)
	c.check(t, get("/v1/webhooks/"+created.Data.ID, plain), true, 200)
	c.check(t, request{method: "POST", path: "/v1/webhooks/" + created.Data.ID + "/rotate", key: plain}, true, 200)
	c.check(t, request{method: "DELETE", path: "/v1/webhooks/" + created.Data.ID, key: plain}, true, 200)
	c.check(t, get("/v1/webhooks/"+created.Data.ID, plain), true, 404)
	for range 1000 {
		h.do(get("/v1/bulk/jobs/"+pending, burner))
	}
	c.check(t, get("/v1/bulk/jobs/"+pending, burner), true, 429)
	if err := h.assets.JS.DeleteStream(context.Background(), events.StreamBulk); err != nil {
		t.Fatal(err)
	}
	c.check(t, jsonPost(seedBody), true, 503)

	var missing []string
	for _, item := range c.doc.Paths.Map() {
		for _, op := range item.Operations() {
			if !c.covered[op.OperationID] {
				missing = append(missing, op.OperationID)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("operations not exercised: %v", missing)
	}
}
