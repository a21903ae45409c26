package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/apikeys"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
	"github.com/jetexport/jetexport/services/gateway"
)

// clock is a settable clock shared by the gateway and the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is a gateway serving real HTTP on 127.0.0.1 against an embedded
// NATS server.
type harness struct {
	tb     testing.TB
	assets *broker.Assets
	keys   *apikeys.Keys
	clock  *clock
	url    string
	client *http.Client
}

func newHarness(tb testing.TB, cfg gateway.Config, records gateway.RecordStore) *harness {
	tb.Helper()
	a := natstest.Assets(tb, broker.Config{})
	return serveOn(tb, a, cfg, records)
}

func serveOn(tb testing.TB, a *broker.Assets, cfg gateway.Config, records gateway.RecordStore) *harness {
	tb.Helper()
	clk := &clock{t: time.Now().UTC()}
	g, err := gateway.New(cfg, gateway.Deps{Assets: a, Records: records,
		Log: zerolog.New(zerolog.NewTestWriter(tb)).Level(zerolog.WarnLevel), Now: clk.Now})
	if err != nil {
		tb.Fatalf("new gateway: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("serve: %v", err)
		}
	})
	return &harness{tb: tb, assets: a, keys: apikeys.New(a.APIKeys, nil), clock: clk,
		url: "http://" + ln.Addr().String(),
		// Compression off: the tests look at the bytes as sent.
		client: &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 30 * time.Second}}
}

// key creates an API key for customer in mode.
func (h *harness) key(customer string, mode events.Mode) (string, apikeys.Key) {
	h.tb.Helper()
	plain, k, err := h.keys.Create(context.Background(), customer, mode, "test")
	if err != nil {
		h.tb.Fatalf("create key: %v", err)
	}
	return plain, k
}

// request is one HTTP request of a test.
type request struct {
	method, path, key, contentType string
	body                           []byte
	header                         map[string]string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (h *harness) do(r request) response {
	h.tb.Helper()
	url := r.path
	if !strings.HasPrefix(url, "http") {
		url = h.url + r.path
	}
	req, err := http.NewRequest(r.method, url, bytes.NewReader(r.body))
	if err != nil {
		h.tb.Fatalf("request: %v", err)
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
	resp, err := h.client.Do(req)
	if err != nil {
		h.tb.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		h.tb.Fatalf("%s %s: read body: %v", r.method, r.path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// rawHead sends only the head of a request announcing a body of n bytes
// and reads the answer: what a server that refuses large bodies up front
// says before the client has sent them.
func (h *harness) rawHead(method, path string, n int) response {
	h.tb.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		h.tb.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\nContent-Length: %d\r\n\r\n", method, path, n)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		h.tb.Fatalf("read answer: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		h.tb.Fatalf("read body: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// startExport kicks off an export as the seed contract does.
func (h *harness) startExport(key, body string) response {
	h.tb.Helper()
	return h.do(request{method: "POST", path: "/v1/bulk/export", key: key,
		contentType: "application/json", body: []byte(body)})
}

// envelope is the /v1 answer shape as a client reads it.
type envelope struct {
	Data  json.RawMessage `json:"data"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"details"`
	} `json:"error"`
	Meta struct {
		RequestID string `json:"requestId"`
		Timestamp string `json:"timestamp"`
		Status    int    `json:"status"`
		RateLimit *struct {
			Limit     int   `json:"limit"`
			Remaining int   `json:"remaining"`
			Reset     int64 `json:"reset"`
		} `json:"rateLimit"`
	} `json:"meta"`
}

func decodeEnvelope(tb testing.TB, r response) envelope {
	tb.Helper()
	var e envelope
	if err := json.Unmarshal(r.body, &e); err != nil {
		tb.Fatalf("status %d: body is not the envelope: %v\n%s", r.status, err, r.body)
	}
	if e.Meta.Status != r.status || e.Meta.RequestID == "" || e.Meta.Timestamp == "" {
		tb.Fatalf("meta %+v does not match status %d", e.Meta, r.status)
	}
	return e
}

// jobData is the data of a job answer.
type jobData struct {
	JobID           string   `json:"jobId"`
	Status          string   `json:"status"`
	Message         string   `json:"message"`
	ResourceTypes   []string `json:"resourceTypes"`
	Since           *string  `json:"since"`
	CreatedAt       string   `json:"createdAt"`
	StartedAt       *string  `json:"startedAt"`
	CompletedAt     *string  `json:"completedAt"`
	TransactionTime *string  `json:"transactionTime"`
	Progress        struct {
		Resources int64    `json:"resources"`
		Bytes     int64    `json:"bytes"`
		Files     int      `json:"files"`
		Percent   *float64 `json:"percent"`
	} `json:"progress"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	DownloadURL string  `json:"downloadUrl"`
	ExpiresAt   *string `json:"expiresAt"`
	Files       []struct {
		ResourceType string `json:"resourceType"`
		URL          string `json:"url"`
		Count        int64  `json:"count"`
		Bytes        int64  `json:"bytes"`
	} `json:"files"`
}

// job decodes the data of a successful answer.
func job(tb testing.TB, r response, wantStatus int) jobData {
	tb.Helper()
	if r.status != wantStatus {
		tb.Fatalf("status %d, want %d: %s", r.status, wantStatus, r.body)
	}
	var d jobData
	if err := json.Unmarshal(decodeEnvelope(tb, r).Data, &d); err != nil {
		tb.Fatalf("data: %v", err)
	}
	return d
}

// wantError checks an error answer's status and code, and that its
// message mentions each of mention.
func wantError(tb testing.TB, r response, status int, code string, mention ...string) envelope {
	tb.Helper()
	if r.status != status {
		tb.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	e := decodeEnvelope(tb, r)
	if e.Error == nil || e.Data != nil {
		tb.Fatalf("not an error envelope: %s", r.body)
	}
	if code != "" && e.Error.Code != code {
		tb.Errorf("error code %q, want %q (%s)", e.Error.Code, code, e.Error.Message)
	}
	for _, m := range mention {
		if !strings.Contains(e.Error.Message, m) {
			tb.Errorf("error message %q does not mention %q", e.Error.Message, m)
		}
	}
	return e
}
