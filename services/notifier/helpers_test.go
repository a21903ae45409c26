package notifier_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
	"github.com/jetexport/jetexport/internal/webhooks"
	"github.com/jetexport/jetexport/services/notifier"
)

var tenant = events.TenantOf("acme", events.ModeTest)

// env is one embedded NATS server with jetexport's assets and a webhook
// store that accepts 127.0.0.1 receivers.
type env struct {
	assets *broker.Assets
	store  *webhooks.Store
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	a := natstest.Assets(tb, broker.Config{})
	return &env{assets: a, store: webhooks.NewStore(a.Webhooks, webhooks.StoreConfig{Policy: webhooks.Policy{AllowPrivate: true}})}
}

// start runs a notifier until the returned stop is called (or the test
// ends); stop waits for Run to return and fails the test on its error.
func (e *env) start(tb testing.TB, cfg notifier.Config) (stop func()) {
	tb.Helper()
	n, err := notifier.New(cfg, notifier.Deps{Assets: e.assets, Log: zerolog.New(zerolog.NewTestWriter(tb))})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("Run: %v", err)
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

// subscribe registers url for evs and returns the subscription.
func (e *env) subscribe(tb testing.TB, url string, evs ...string) webhooks.Created {
	tb.Helper()
	c, err := e.store.Create(context.Background(), tenant, webhooks.CreateRequest{URL: url, Events: evs})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// job publishes a job's events up to the terminal one, as the gateway and
// the exporter would, and returns its id.
func (e *env) job(tb testing.TB, webhookURL string, terminal events.Payload) string {
	tb.Helper()
	id := "job_" + ulid.Make().String()
	since := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e.publish(tb, id, &events.ExportRequested{ResourceTypes: []string{"Patient", "Observation"}, Since: &since,
		Level: events.LevelSystem, Door: "rest", RequestURL: "/v1/bulk/export", Requester: "key_1", WebhookURL: webhookURL})
	e.publish(tb, id, &events.ExportStarted{WorkerID: "w1", Attempt: 1, TransactionTime: time.Now()})
	e.publish(tb, id, terminal)
	return id
}

func (e *env) publish(tb testing.TB, jobID string, p events.Payload) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgID := events.MsgID(jobID, p.Kind(), "")
	if _, err := broker.Publish(ctx, e.assets.JS, events.New(msgID, time.Now(), tenant, jobID, p), msgID); err != nil {
		tb.Fatal(err)
	}
}

// jobDoc folds the job's events as the projector does: what
// GET /v1/bulk/jobs/{id} shows.
func (e *env) jobDoc(tb testing.TB, jobID string) events.Job {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	evs, err := broker.JobEvents(ctx, e.assets.JS, tenant, jobID)
	if err != nil {
		tb.Fatal(err)
	}
	var j events.Job
	for _, ev := range evs {
		j = events.Apply(j, ev)
	}
	return j
}

// waitDelivery polls the job until its delivery ends (delivered or failed).
func (e *env) waitDelivery(tb testing.TB, jobID string, n int, timeout time.Duration) []events.Delivery {
	tb.Helper()
	var ds []events.Delivery
	natstest.Eventually(tb, timeout, "deliveries of "+jobID+" to end", func() bool {
		ds = e.jobDoc(tb, jobID).Webhooks
		if len(ds) != n {
			return false
		}
		for _, d := range ds {
			if d.Status != events.DeliveryDelivered && d.Status != events.DeliveryFailed {
				return false
			}
		}
		return true
	})
	return ds
}

func completed() *events.ExportCompleted {
	return &events.ExportCompleted{TransactionTime: time.Now(), Resources: 7, Bytes: 1234, Files: []events.File{
		{ResourceType: "Patient", Part: 1, Object: "acme_test/x/Patient.1.ndjson", Count: 3, Bytes: 600, SHA256: "aa"},
		{ResourceType: "Observation", Part: 1, Object: "acme_test/x/Observation.1.ndjson", Count: 4, Bytes: 634, SHA256: "bb"},
	}}
}

// request is one delivery a receiver got.
type request struct {
	header http.Header
	body   []byte
	at     time.Time
}

// receiver is a real HTTP endpoint on 127.0.0.1 answering with answer(n)
// to its n-th request (from 1).
type receiver struct {
	*httptest.Server
	answer func(n int, w http.ResponseWriter, r *http.Request)

	mu       sync.Mutex
	reqs     []request
	inFlight int
	maxIn    int
}

func newReceiver(tb testing.TB, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	tb.Helper()
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	tb.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, request{header: r.Header.Clone(), body: body, at: time.Now()})
	n := len(rc.reqs)
	rc.inFlight++
	rc.maxIn = max(rc.maxIn, rc.inFlight)
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		rc.inFlight--
		rc.mu.Unlock()
	}()
	if rc.answer != nil {
		rc.answer(n, w, r)
	}
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

func (rc *receiver) count() int { return len(rc.requests()) }

func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// specVerify checks a delivery exactly as the Standard Webhooks
// specification describes, written from its text independently of package
// webhooks: HMAC-SHA256 keyed with the base64-decoded part of the secret
// after "whsec_", over "id.timestamp.body", compared with each
// space-separated "v1,<base64>" of webhook-signature.
func specVerify(secret string, h http.Header, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "."))
	m.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	for _, s := range strings.Split(h.Get("webhook-signature"), " ") {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

func decodePayload(tb testing.TB, body []byte) webhooks.Payload {
	tb.Helper()
	var p webhooks.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		tb.Fatalf("payload %s: %v", body, err)
	}
	return p
}

// fast is a configuration with a short schedule, for tests.
func fast() notifier.Config {
	return notifier.Config{AllowPrivate: true, Timeout: 2 * time.Second, Schedule: []time.Duration{20 * time.Millisecond},
		MaxRetryAge: time.Minute, MaxConcurrent: 4, MaxPerEndpoint: 2}
}
