package gateway_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/services/gateway"
)

const seedBody = `{"resourceTypes": ["Patient","Encounter","Observation"], "since": "2025-01-01T00:00:00Z"}`

func TestStartExport(t *testing.T) {
	h := newHarness(t, gateway.Config{}, nil)
	plain, key := h.key("acme", events.ModeTest)
	r := h.startExport(plain, seedBody)
	d := job(t, r, 202)
	if !events.ValidJobID(d.JobID) || d.Status != "pending" || d.Message != "Export job started" {
		t.Fatalf("data = %+v, want a job id, pending, Export job started", d)
	}
	e := decodeEnvelope(t, r)
	rl := e.Meta.RateLimit
	if rl == nil || rl.Limit != gateway.DefaultRateLimit || rl.Remaining != gateway.DefaultRateLimit-1 {
		t.Fatalf("meta.rateLimit = %+v", rl)
	}
	for h, want := range map[string]string{
		"X-RateLimit-Limit":     strconv.Itoa(rl.Limit),
		"X-RateLimit-Remaining": strconv.Itoa(rl.Remaining),
		"X-RateLimit-Reset":     strconv.FormatInt(rl.Reset, 10),
		"X-Request-Id":          e.Meta.RequestID,
		"Content-Type":          "application/json",
	} {
		if got := r.header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if rl.Reset <= time.Now().Unix()-1 || rl.Reset > time.Now().Add(time.Minute+time.Second).Unix() {
		t.Errorf("reset %d is not within the next minute", rl.Reset)
	}
	// The log holds the request before the client has the id.
	ev, err := broker.LastEvent(context.Background(), h.assets.Stream, key.Tenant, d.JobID, events.KindRequested)
	if err != nil {
		t.Fatalf("requested event: %v", err)
	}
	req := ev.Data.(*events.ExportRequested)
	since := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	want := events.ExportRequested{ResourceTypes: []string{"Patient", "Encounter", "Observation"},
		Since: &since, Level: events.LevelSystem, Door: "rest", RequestURL: h.url + "/v1/bulk/export",
		Requester: key.ID}
	if d := cmp.Diff(want, *req); d != "" {
		t.Errorf("event (-want +got):\n%s", d)
	}
	if ev.Tenant != "acme_test" {
		t.Errorf("event tenant %s, want acme_test", ev.Tenant)
	}
}

func TestStartExportOptionalFields(t *testing.T) {
	h := newHarness(t, gateway.Config{}, nil)
	plain, key := h.key("acme", events.ModeLive)
	tests := []struct {
		name, body string
		want       events.ExportRequested
	}{
		{name: "types only", body: `{"resourceTypes":["Patient"]}`,
			want: events.ExportRequested{ResourceTypes: []string{"Patient"}}},
		{name: "duplicates dropped, unknown fields ignored", body: `{"resourceTypes":["Patient","Patient","Condition"],"format":"x","since":null}`,
			want: events.ExportRequested{ResourceTypes: []string{"Patient", "Condition"}}},
		{name: "date only since", body: `{"resourceTypes":["Patient"],"since":"2025-02-03"}`,
			want: events.ExportRequested{ResourceTypes: []string{"Patient"}, Since: ptr(time.Date(2025, 2, 3, 0, 0, 0, 0, time.UTC))}},
		{name: "offset since", body: `{"resourceTypes":["Patient"],"since":"2025-02-03T10:00:00+02:00"}`,
			want: events.ExportRequested{ResourceTypes: []string{"Patient"}, Since: ptr(time.Date(2025, 2, 3, 8, 0, 0, 0, time.UTC))}},
		{name: "webhook", body: `{"resourceTypes":["Patient"],"webhookUrl":"https://hooks.example.com/x?y=1"}`,
			want: events.ExportRequested{ResourceTypes: []string{"Patient"}, WebhookURL: "https://hooks.example.com/x?y=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := job(t, h.startExport(plain, tt.body), 202)
			ev, err := broker.LastEvent(context.Background(), h.assets.Stream, key.Tenant, d.JobID, events.KindRequested)
			if err != nil {
				t.Fatal(err)
			}
			got := *ev.Data.(*events.ExportRequested)
			tt.want.Level, tt.want.Door, tt.want.Requester = events.LevelSystem, "rest", key.ID
			tt.want.RequestURL = h.url + "/v1/bulk/export"
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("event (-want +got):\n%s", d)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestStartExportBadInput(t *testing.T) {
	h := newHarness(t, gateway.Config{}, nil)
	plain, _ := h.key("acme", events.ModeTest)
	big := `{"resourceTypes":["Patient"],"pad":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name, contentType, body string
		status                  int
		code                    string
		mention                 []string
		fields                  []string
	}{
		{name: "missing resourceTypes", body: `{"since":"2025-01-01T00:00:00Z"}`, status: 400, code: "invalid_request",
			mention: []string{"resourceTypes is required"}, fields: []string{"resourceTypes"}},
		{name: "null resourceTypes", body: `{"resourceTypes":null}`, status: 400, mention: []string{"resourceTypes is required"}},
		{name: "empty resourceTypes", body: `{"resourceTypes":[]}`, status: 400, mention: []string{"must not be empty"}},
		{name: "resourceTypes not an array", body: `{"resourceTypes":"Patient"}`, status: 400, mention: []string{"must be an array"}},
		{name: "resourceTypes of numbers", body: `{"resourceTypes":[1,2]}`, status: 400, mention: []string{"must be an array"}},
		{name: "unknown types named", body: `{"resourceTypes":["Patient","Foo","patient"]}`, status: 400,
			mention: []string{`"Foo"`, `"patient" (did you mean "Patient"?)`},
			fields:  []string{"resourceTypes", "resourceTypes[1]", "resourceTypes[2]"}},
		{name: "since not ISO 8601", body: `{"resourceTypes":["Patient"],"since":"yesterday"}`, status: 400,
			mention: []string{"since", "yesterday"}, fields: []string{"since"}},
		{name: "since without zone", body: `{"resourceTypes":["Patient"],"since":"2025-01-01T00:00:00"}`, status: 400, mention: []string{"zone"}},
		{name: "since a number", body: `{"resourceTypes":["Patient"],"since":20250101}`, status: 400, mention: []string{"since must be a string"}},
		{name: "every problem at once", body: `{"resourceTypes":[],"since":"x","webhookUrl":"ftp://x"}`, status: 400,
			mention: []string{"resourceTypes", "since", "webhookUrl"}, fields: []string{"resourceTypes", "since", "webhookUrl"}},
		{name: "webhook relative", body: `{"resourceTypes":["Patient"],"webhookUrl":"/hook"}`, status: 400, mention: []string{"absolute http(s) URL"}},
		{name: "malformed JSON", body: `{"resourceTypes":["Patient"`, status: 400, code: "invalid_json", mention: []string{"not valid JSON"}},
		{name: "trailing garbage", body: `{"resourceTypes":["Patient"]} x`, status: 400, code: "invalid_json"},
		{name: "array body", body: `["Patient"]`, status: 400, code: "invalid_json", mention: []string{"JSON object"}},
		{name: "empty body", body: ``, status: 400, code: "invalid_json", mention: []string{"empty"}},
		{name: "over 1 MiB", body: big, status: 413, code: "payload_too_large"},
		{name: "text/plain", contentType: "text/plain", body: `{"resourceTypes":["Patient"]}`, status: 415,
			code: "unsupported_media_type", mention: []string{"application/json"}},
		{name: "no content type", contentType: "-", body: `{"resourceTypes":["Patient"]}`, status: 415, code: "unsupported_media_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			switch ct {
			case "":
				ct = "application/json; charset=utf-8"
			case "-":
				ct = ""
			}
			r := h.do(request{method: "POST", path: "/v1/bulk/export", key: plain, contentType: ct, body: []byte(tt.body)})
			e := wantError(t, r, tt.status, tt.code, tt.mention...)
			if e.Meta.RateLimit == nil {
				t.Errorf("no rateLimit in meta of a keyed request")
			}
			if strings.Contains(string(r.body), "job_") {
				t.Errorf("an error answer carries a job id: %s", r.body)
			}
			var fields []string
			for _, d := range e.Error.Details {
				fields = append(fields, d.Field)
			}
			if tt.fields != nil {
				if d := cmp.Diff(tt.fields, fields); d != "" {
					t.Errorf("detail fields (-want +got):\n%s", d)
				}
			}
		})
	}
}

func TestAuth(t *testing.T) {
	h := newHarness(t, gateway.Config{}, nil)
	plain, key := h.key("acme", events.ModeTest)
	revoked, rk := h.key("acme", events.ModeTest)
	if err := h.keys.Revoke(context.Background(), rk.ID); err != nil {
		t.Fatal(err)
	}
	id := job(t, h.startExport(plain, seedBody), 202).JobID
	_ = key
	tests := []struct {
		name, key, code, mention string
	}{
		{"missing", "", "missing_api_key", "x-api-key"},
		{"unknown", "clk_test_" + strings.Repeat("A", 40), "invalid_api_key", "not known"},
		{"garbage", "Bearer xyz", "invalid_api_key", "not known"},
		{"revoked", revoked, "revoked_api_key", "revoked"},
	}
	for _, tt := range tests {
		for _, r := range []request{
			{method: "POST", path: "/v1/bulk/export", contentType: "application/json", body: []byte(seedBody)},
			{method: "GET", path: "/v1/bulk/jobs/" + id},
			{method: "DELETE", path: "/v1/bulk/jobs/" + id},
		} {
			t.Run(tt.name+" "+r.method, func(t *testing.T) {
				r.key = tt.key
				e := wantError(t, h.do(r), 401, tt.code, tt.mention)
				if e.Meta.RateLimit != nil {
					t.Errorf("rateLimit on an unauthenticated answer: %+v", e.Meta.RateLimit)
				}
			})
		}
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, gateway.Config{RateLimit: 3, RateWindow: time.Minute}, nil)
	a, _ := h.key("acme", events.ModeTest)
	b, _ := h.key("acme", events.ModeTest)
	for i := range 3 {
		r := h.do(request{method: "GET", path: "/v1/bulk/jobs/job_01JNM0000000000000000000AA", key: a})
		e := wantError(t, r, 404, "job_not_found")
		if e.Meta.RateLimit.Remaining != 2-i || r.header.Get("X-RateLimit-Remaining") != strconv.Itoa(2-i) {
			t.Fatalf("request %d: remaining %d (header %s), want %d", i, e.Meta.RateLimit.Remaining,
				r.header.Get("X-RateLimit-Remaining"), 2-i)
		}
	}
	r := h.startExport(a, seedBody)
	e := wantError(t, r, 429, "rate_limited", "3 requests per 1m0s")
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 60 {
		t.Errorf("Retry-After = %q, want 1..60 seconds", r.header.Get("Retry-After"))
	}
	if e.Meta.RateLimit.Remaining != 0 || r.header.Get("X-RateLimit-Limit") != "3" {
		t.Errorf("meta %+v, headers %v", e.Meta.RateLimit, r.header)
	}
	// Another key has its own count.
	job(t, h.startExport(b, seedBody), 202)
	// The next window starts afresh.
	h.clock.Add(time.Minute)
	job(t, h.startExport(a, seedBody), 202)
}

func TestPublishUnavailable(t *testing.T) {
	h := newHarness(t, gateway.Config{PublishTimeout: 500 * time.Millisecond}, nil)
	plain, _ := h.key("acme", events.ModeTest)
	if err := h.assets.JS.DeleteStream(context.Background(), events.StreamBulk); err != nil {
		t.Fatal(err)
	}
	r := h.startExport(plain, seedBody)
	wantError(t, r, 503, "publish_failed", "retry")
	if strings.Contains(string(r.body), "job_") {
		t.Fatalf("503 carries a job id: %s", r.body)
	}
}

func TestHealthAndUnknownRoutes(t *testing.T) {
	h := newHarness(t, gateway.Config{}, nil)
	r := h.do(request{method: "GET", path: "/healthz"})
	var health map[string]string
	if err := json.Unmarshal(r.body, &health); err != nil || r.status != 200 || health["status"] != "ok" {
		t.Fatalf("healthz = %d %s", r.status, r.body)
	}
	wantError(t, h.do(request{method: "GET", path: "/v2/nothing"}), 404, "route_not_found")
	// A body beyond every limit is refused by the HTTP server itself, still in the envelope.
	wantError(t, h.rawHead("POST", "/v1/bulk/export", 64<<20), 413, "payload_too_large")

	h.assets.JS.Conn().Close()
	r = h.do(request{method: "GET", path: "/healthz"})
	if r.status != 503 || !strings.Contains(string(r.body), `"unavailable"`) {
		t.Fatalf("healthz without NATS = %d %s", r.status, r.body)
	}
}

func gzipped(tb testing.TB, s string) []byte {
	tb.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

func TestRequestEncoding(t *testing.T) {
	h := newHarness(t, gateway.Config{}, nil)
	plain, _ := h.key("acme", events.ModeTest)
	// 8 MiB of spaces around a valid request: a few KiB compressed.
	bomb := gzipped(t, `{"resourceTypes":["Patient"]`+strings.Repeat(" ", 8<<20)+`}`)
	tests := []struct {
		name, encoding string
		body           []byte
		status         int
		code           string
	}{
		{"gzip", "gzip", gzipped(t, seedBody), 202, ""},
		{"identity", "identity", []byte(seedBody), 202, ""},
		{"gzip bomb", "gzip", bomb, 413, "payload_too_large"},
		{"corrupt gzip", "gzip", []byte("not gzip at all"), 400, "invalid_encoding"},
		{"truncated gzip", "gzip", gzipped(t, seedBody)[:20], 400, "invalid_encoding"},
		{"brotli", "br", []byte(seedBody), 415, "unsupported_media_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(request{method: "POST", path: "/v1/bulk/export", key: plain, contentType: "application/json",
				body: tt.body, header: map[string]string{"Content-Encoding": tt.encoding}})
			if tt.status == 202 {
				job(t, r, 202)
				return
			}
			wantError(t, r, tt.status, tt.code)
		})
	}
}
