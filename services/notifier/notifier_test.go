package notifier_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/natstest"
	"github.com/jetexport/jetexport/internal/signing"
	"github.com/jetexport/jetexport/internal/webhooks"
	"github.com/jetexport/jetexport/services/notifier"
)

// TestDeliverySignedAndVerifiable: a completed export reaches a
// subscription and the job's one-off webhookUrl, signed so that a Standard
// Webhooks verifier accepts it, with fresh download links that verify.
func TestDeliverySignedAndVerifiable(t *testing.T) {
	e := newEnv(t)
	sub := newReceiver(t, status(http.StatusNoContent))
	oneOff := newReceiver(t, status(http.StatusOK))
	created := e.subscribe(t, sub.URL+"/hooks/jetexport", webhooks.EventCompleted)
	cfg := fast()
	cfg.PublicURL = "https://export.example.com"
	e.start(t, cfg)
	jobID := e.job(t, oneOff.URL+"/once", completed())

	ds := e.waitDelivery(t, jobID, 2, 10*time.Second)
	defaultSecret, err := e.store.DefaultSecret(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		rc           *receiver
		secret       string
		subscription string
	}{
		{name: "subscription", rc: sub, secret: created.Secret, subscription: created.ID},
		{name: "one-off webhookUrl", rc: oneOff, secret: defaultSecret.Secret, subscription: notifier.OneOff},
	}
	signer, err := signing.New(context.Background(), e.assets.Signing, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reqs := tc.rc.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if err := webhooks.VerifyRequest(tc.secret, r.header, r.body, time.Now(), webhooks.DefaultTolerance); err != nil {
				t.Errorf("VerifyRequest: %v", err)
			}
			if !specVerify(tc.secret, r.header, r.body) {
				t.Errorf("the specification's verification refuses %v", r.header)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			p := decodePayload(t, r.body)
			if p.Type != webhooks.EventCompleted || p.ID != r.header.Get(webhooks.HeaderID) || !strings.HasPrefix(p.ID, "msg_") {
				t.Errorf("payload type %q id %q, header id %q", p.Type, p.ID, r.header.Get(webhooks.HeaderID))
			}
			d := p.Data
			since := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			if d.JobID != jobID || d.Status != events.StatusCompleted || d.CompletedAt == nil || d.Since == nil || !d.Since.Equal(since) ||
				!cmp.Equal(d.ResourceTypes, []string{"Patient", "Observation"}) {
				t.Errorf("payload data %+v", d)
			}
			if d.ExpiresAt == nil || d.ExpiresAt.Before(time.Now().Add(55*time.Minute)) || d.ExpiresAt.After(time.Now().Add(time.Hour+time.Second)) {
				t.Errorf("expiresAt %v, want about an hour from now", d.ExpiresAt)
			}
			links := append([]string{d.DownloadURL}, d.Files[0].URL, d.Files[1].URL)
			for _, l := range links {
				u, err := url.Parse(l)
				if err != nil || u.Host != "export.example.com" {
					t.Fatalf("link %q", l)
				}
				if err := signer.Verify(u.Path, u.Query()); err != nil {
					t.Errorf("link %s: %v", l, err)
				}
			}
			gotFiles := []webhooks.PayloadFile{{ResourceType: d.Files[0].ResourceType, Count: d.Files[0].Count, Bytes: d.Files[0].Bytes},
				{ResourceType: d.Files[1].ResourceType, Count: d.Files[1].Count, Bytes: d.Files[1].Bytes}}
			wantFiles := []webhooks.PayloadFile{{ResourceType: "Patient", Count: 3, Bytes: 600}, {ResourceType: "Observation", Count: 4, Bytes: 634}}
			if diff := cmp.Diff(wantFiles, gotFiles); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
		})
	}
	for _, d := range ds {
		if d.Status != events.DeliveryDelivered || d.Attempts != 1 || d.LastStatus/100 != 2 || d.Event != webhooks.EventCompleted {
			t.Errorf("job shows delivery %+v", d)
		}
	}
}

// TestRetriedUntilDelivered: a receiver that fails three times and then
// answers 200 gets the same webhook-id each time, and the job shows the
// delivery delivered after 4 attempts.
func TestRetriedUntilDelivered(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	created := e.subscribe(t, rc.URL, webhooks.EventCompleted)
	e.start(t, fast())
	jobID := e.job(t, "", completed())

	ds := e.waitDelivery(t, jobID, 1, 15*time.Second)
	want := events.Delivery{DeliveryID: ds[0].DeliveryID, Subscription: created.ID, URL: rc.URL, Event: webhooks.EventCompleted,
		Status: events.DeliveryDelivered, Attempts: 4, LastStatus: 200, UpdatedAt: ds[0].UpdatedAt}
	if diff := cmp.Diff(want, ds[0]); diff != "" {
		t.Errorf("delivery (-want +got):\n%s", diff)
	}
	reqs := rc.requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4", len(reqs))
	}
	for i, r := range reqs {
		if id := r.header.Get(webhooks.HeaderID); id != ds[0].DeliveryID {
			t.Errorf("attempt %d: webhook-id %q, want %q", i+1, id, ds[0].DeliveryID)
		}
		if !specVerify(created.Secret, r.header, r.body) {
			t.Errorf("attempt %d: signature does not verify", i+1)
		}
	}
}

// TestGivesUpAfterRetryLimit: a receiver that never answers ends failed
// once the retry limit (shortened here) has passed.
func TestGivesUpAfterRetryLimit(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	e.subscribe(t, rc.URL, webhooks.EventCompleted)
	cfg := fast()
	cfg.Timeout = 100 * time.Millisecond
	cfg.Schedule = []time.Duration{50 * time.Millisecond}
	cfg.MaxRetryAge = 700 * time.Millisecond
	e.start(t, cfg)
	start := time.Now()
	jobID := e.job(t, "", completed())

	ds := e.waitDelivery(t, jobID, 1, 15*time.Second)
	d := ds[0]
	if d.Status != events.DeliveryFailed || d.Attempts < 2 || d.NextAttempt != nil ||
		!strings.Contains(d.LastError, "no answer within 100ms") || !strings.Contains(d.LastError, "retry limit") {
		t.Fatalf("delivery %+v, want failed after several attempts that timed out", d)
	}
	if rc.count() != d.Attempts {
		t.Errorf("receiver saw %d requests, job shows %d attempts", rc.count(), d.Attempts)
	}
	if last := rc.requests()[rc.count()-1].at; last.Sub(start) > cfg.MaxRetryAge+time.Second {
		t.Errorf("last attempt %s after the job ended, past the %s limit", last.Sub(start), cfg.MaxRetryAge)
	}
}

// TestRestartBetweenAttempts: a notifier stopped between attempts loses
// nothing: the retry waits in JetStream and a new notifier makes it.
func TestRestartBetweenAttempts(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	e.subscribe(t, rc.URL, webhooks.EventCompleted)
	cfg := fast()
	cfg.Schedule = []time.Duration{time.Second}
	stop := e.start(t, cfg)
	jobID := e.job(t, "", completed())

	natstest.Eventually(t, 10*time.Second, "first attempt recorded", func() bool {
		ws := e.jobDoc(t, jobID).Webhooks
		return len(ws) == 1 && ws[0].Status == events.DeliveryRetrying && ws[0].NextAttempt != nil
	})
	stop()
	if n := rc.count(); n != 1 {
		t.Fatalf("%d requests before the restart, want 1", n)
	}
	e.start(t, cfg)

	ds := e.waitDelivery(t, jobID, 1, 10*time.Second)
	if ds[0].Status != events.DeliveryDelivered || ds[0].Attempts != 2 {
		t.Fatalf("delivery %+v, want delivered on attempt 2", ds[0])
	}
	reqs := rc.requests()
	if len(reqs) != 2 || reqs[0].header.Get(webhooks.HeaderID) != reqs[1].header.Get(webhooks.HeaderID) {
		t.Fatalf("requests %d with ids %v", len(reqs), reqs)
	}
}

// TestBlockedAddressRefused: a destination the policy refuses is refused
// when registered, and again before each attempt if it got in some other
// way (registered while the operator allowed private addresses), with the
// reason recorded on the job. The check of a name's resolved address when
// connecting is shown by internal/webhooks' TestClientRefusesAtDial.
func TestBlockedAddressRefused(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, status(http.StatusOK))

	strict := webhooks.NewStore(e.assets.Webhooks, webhooks.StoreConfig{})
	_, err := strict.Create(context.Background(), tenant, webhooks.CreateRequest{URL: rc.URL, Events: []string{webhooks.EventCompleted}})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1 is a loopback address") {
		t.Fatalf("registering %s: %v, want refused as loopback", rc.URL, err)
	}

	e.subscribe(t, rc.URL, webhooks.EventCompleted) // through the permissive store
	cfg := fast()
	cfg.AllowPrivate = false
	e.start(t, cfg)
	jobID := e.job(t, "", completed())

	ds := e.waitDelivery(t, jobID, 1, 10*time.Second)
	if ds[0].Status != events.DeliveryFailed || ds[0].Attempts != 1 ||
		!strings.Contains(ds[0].LastError, "refused: 127.0.0.1 is a loopback address") {
		t.Fatalf("delivery %+v, want failed at once as refused", ds[0])
	}
	if n := rc.count(); n != 0 {
		t.Fatalf("the refused receiver got %d requests", n)
	}
}

// TestSlowEndpointDoesNotDelayOthers: deliveries to an endpoint that hangs
// take at most MaxPerEndpoint workers; the others keep delivering.
func TestSlowEndpointDoesNotDelayOthers(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	slow := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	quick := newReceiver(t, status(http.StatusOK))
	e.subscribe(t, slow.URL, webhooks.EventCompleted)
	e.subscribe(t, quick.URL, webhooks.EventCompleted)
	cfg := fast()
	cfg.Timeout = 10 * time.Second
	cfg.MaxConcurrent, cfg.MaxPerEndpoint = 4, 2
	e.start(t, cfg)
	const jobs = 5
	var ids []string
	for range jobs {
		ids = append(ids, e.job(t, "", completed()))
	}

	natstest.Eventually(t, 10*time.Second, "the quick receiver to get every delivery", func() bool { return quick.count() == jobs })
	slow.mu.Lock()
	maxIn := slow.maxIn
	slow.mu.Unlock()
	if maxIn > cfg.MaxPerEndpoint {
		t.Errorf("slow endpoint had %d deliveries in flight, limit %d", maxIn, cfg.MaxPerEndpoint)
	}
	close(release)
	for _, id := range ids {
		for _, d := range e.waitDelivery(t, id, 2, 30*time.Second) {
			if d.Status != events.DeliveryDelivered {
				t.Errorf("job %s delivery %+v", id, d)
			}
		}
	}
}

// TestOtherEvents: failed, cancelled and expired jobs reach the
// subscriptions to them, with their status (and the error of a failure),
// and no others.
func TestOtherEvents(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, status(http.StatusOK))
	e.subscribe(t, rc.URL, webhooks.EventFailed, webhooks.EventCancelled, webhooks.EventExpired)
	e.start(t, fast())
	tests := []struct {
		name      string
		terminal  events.Payload
		wantType  string
		wantState events.Status
		wantError *webhooks.PayloadError
	}{
		{name: "failed", terminal: &events.ExportFailed{Code: "too-large", Message: "split the export", Attempts: 3},
			wantType: webhooks.EventFailed, wantState: events.StatusFailed, wantError: &webhooks.PayloadError{Code: "too-large", Message: "split the export"}},
		{name: "cancelled", terminal: &events.ExportCancelled{By: "key_1"}, wantType: webhooks.EventCancelled, wantState: events.StatusCancelled},
		{name: "expired", terminal: &events.ExportExpired{ObjectsRemoved: 2}, wantType: webhooks.EventExpired, wantState: events.StatusExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := rc.count()
			jobID := e.job(t, "", tc.terminal)
			e.waitDelivery(t, jobID, 1, 10*time.Second)
			reqs := rc.requests()
			if len(reqs) != before+1 {
				t.Fatalf("%d new requests, want 1", len(reqs)-before)
			}
			p := decodePayload(t, reqs[len(reqs)-1].body)
			if p.Type != tc.wantType || p.Data.JobID != jobID || p.Data.Status != tc.wantState || p.Data.DownloadURL != "" ||
				len(p.Data.Files) != 0 || !cmp.Equal(p.Data.Error, tc.wantError) {
				t.Errorf("payload %+v", p)
			}
		})
	}
	t.Run("completed is not subscribed to", func(t *testing.T) {
		before := rc.count()
		jobID := e.job(t, "", completed())
		jobID2 := e.job(t, "", &events.ExportFailed{Code: "x", Message: "y"})
		e.waitDelivery(t, jobID2, 1, 10*time.Second) // fan-out is in order: the completed job came first
		if n := len(e.jobDoc(t, jobID).Webhooks); n != 0 || rc.count() != before+1 {
			t.Errorf("completed job has %d deliveries; receiver got %d new requests", n, rc.count()-before)
		}
	})
}

// TestRotationSignsWithBoth: during a rotation's grace period a delivery
// verifies with the old secret and with the new one.
func TestRotationSignsWithBoth(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, status(http.StatusOK))
	created := e.subscribe(t, rc.URL, webhooks.EventCompleted)
	rot, err := e.store.Rotate(context.Background(), tenant, created.ID, webhooks.RotateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	e.start(t, fast())
	jobID := e.job(t, "", completed())
	e.waitDelivery(t, jobID, 1, 10*time.Second)
	r := rc.requests()[0]
	for _, s := range []string{created.Secret, rot.Secret} {
		if !specVerify(s, r.header, r.body) {
			t.Errorf("secret %s... does not verify %q", s[:12], r.header.Get(webhooks.HeaderSignature))
		}
	}
}

// TestDeletedSubscriptionStops: a delivery to a subscription deleted before
// its attempt ends failed, saying why, and sends nothing.
func TestDeletedSubscriptionStops(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, status(http.StatusInternalServerError))
	created := e.subscribe(t, rc.URL, webhooks.EventCompleted)
	cfg := fast()
	cfg.Schedule = []time.Duration{300 * time.Millisecond}
	e.start(t, cfg)
	jobID := e.job(t, "", completed())
	natstest.Eventually(t, 10*time.Second, "first attempt", func() bool { return rc.count() == 1 })
	if _, err := e.store.Delete(context.Background(), tenant, created.ID); err != nil {
		t.Fatal(err)
	}
	ds := e.waitDelivery(t, jobID, 1, 10*time.Second)
	if ds[0].Status != events.DeliveryFailed || !strings.Contains(ds[0].LastError, "was deleted") || rc.count() != 1 {
		t.Fatalf("delivery %+v after %d requests", ds[0], rc.count())
	}
}
