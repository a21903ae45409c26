package gateway_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
	"github.com/jetexport/jetexport/services/gateway"
)

func TestMaxActiveExports(t *testing.T) {
	tests := []struct {
		name string
		end  []events.Payload // what ends one of the running jobs
	}{
		{name: "completed", end: []events.Payload{&events.ExportCompleted{}}},
		{name: "completed and expired", end: []events.Payload{&events.ExportCompleted{}, &events.ExportExpired{}}},
		{name: "failed", end: []events.Payload{&events.ExportFailed{Code: "export_failed", Message: "boom", Attempts: 1}}},
		{name: "cancel requested", end: []events.Payload{&events.ExportCancelRequested{By: "key"}}},
		{name: "cancelled", end: []events.Payload{&events.ExportCancelRequested{By: "key"}, &events.ExportCancelled{By: "key"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, gateway.Config{MaxActiveExports: 2}, nil)
			plain, key := h.key("acme", events.ModeTest)
			first := job(t, h.startExport(plain, seedBody), 202).JobID
			second := job(t, h.startExport(plain, seedBody), 202).JobID
			// Started but not ended still counts.
			h.publishEvent(key.Tenant, second, &events.ExportStarted{WorkerID: "w1", Attempt: 1})

			r := h.startExport(plain, seedBody)
			wantError(t, r, 429, "too_many_exports", "tenant acme_test already has 2 exports running; the limit is 2")
			if got := r.header.Get("Retry-After"); got != "30" {
				t.Errorf("Retry-After = %q, want 30", got)
			}
			// Another tenant (the same customer's live mode) has its own count.
			live, _ := h.key("acme", events.ModeLive)
			job(t, h.startExport(live, seedBody), 202)

			for _, p := range tt.end {
				h.publishEvent(key.Tenant, first, p)
			}
			job(t, h.startExport(plain, seedBody), 202)
			wantError(t, h.startExport(plain, seedBody), 429, "too_many_exports")
		})
	}
}

// Two gateways sharing one log, and many simultaneous kick-offs of one
// tenant: exactly the limit is admitted, never one more.
func TestMaxActiveExportsSimultaneous(t *testing.T) {
	const limit, tries = 3, 24
	a := natstest.Assets(t, broker.Config{})
	cfg := gateway.Config{MaxActiveExports: limit, RateLimit: 1000}
	gateways := []*harness{serveOn(t, a, cfg, nil), serveOn(t, a, cfg, nil)}
	plain, key := gateways[0].key("acme", events.ModeTest)
	for _, g := range gateways {
		// Idle keep-alive connections would hold up the gateways' shutdown.
		t.Cleanup(g.client.CloseIdleConnections)
	}

	statuses := make([]int, tries)
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() { statuses[i] = gateways[i%2].startExport(plain, seedBody).status })
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	if counts[202] != limit || counts[429] != tries-limit {
		t.Fatalf("answers %v, want %d × 202 and %d × 429", counts, limit, tries-limit)
	}
	info, err := a.Stream.Info(context.Background(), jetstream.WithSubjectFilter("bulk."+string(key.Tenant)+".*.requested"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(info.State.Subjects); n != limit {
		t.Fatalf("the log holds %d requested jobs, want %d", n, limit)
	}
}

func TestMaxActiveExportsConfig(t *testing.T) {
	err := gateway.Config{MaxActiveExports: -1}.Validate()
	if err == nil || !strings.Contains(err.Error(), "max active exports -1") {
		t.Fatalf("Validate() = %v, want an error naming max active exports", err)
	}
	if err := (gateway.Config{MaxActiveExports: 1}).Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
}

// The FHIR door counts against the same limit, and answers its 429 as an
// OperationOutcome.
func TestMaxActiveExportsFHIRDoor(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{MaxActiveExports: 2})
	plain, _ := h.key("acme", events.ModeTest)
	job(t, h.startExport(plain, seedBody), 202)
	if r, id := h.kickoff(cred{key: plain}, "/fhir/$export?_type=Patient", fhirHeaders); r.status != 202 || id == "" {
		t.Fatalf("first FHIR kick-off: %d %s", r.status, r.body)
	}
	r, _ := h.kickoff(cred{key: plain}, "/fhir/$export?_type=Patient", fhirHeaders)
	if r.status != 429 || r.header.Get("Retry-After") != "30" {
		t.Fatalf("kick-off past the limit: %d, Retry-After %q: %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	for _, want := range []string{`"resourceType":"OperationOutcome"`, `"code":"throttled"`,
		"tenant acme_test already has 2 exports running; the limit is 2"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("answer %s does not contain %s", r.body, want)
		}
	}
	// And the /v1 door sees the FHIR door's job.
	wantError(t, h.startExport(plain, seedBody), 429, "too_many_exports")
}
