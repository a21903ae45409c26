package crashtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
)

// TestProjection SIGKILLs the gateway (and with it the projector) in the
// middle of an export, deletes the jobs bucket, starts the gateway again
// and rebuilds the projection with `jetexport projections rebuild --swap`
// while events go on arriving (the export's, and webhook deliveries of a
// finished job). Every job document must end equal to the fold of its
// events: no event missed, none counted twice; and a second rebuild finds
// nothing to change.
func TestProjection(t *testing.T) {
	t.Parallel()
	s := newSystem(t, options{})
	s.load(60, 6)

	// A job cancelled before any exporter runs, one completed (the
	// Patients: 20 parts of 3) and one running when the gateway dies.
	cancelled := s.kickOff("Patient", "Observation")
	if status, data := s.do("DELETE", "/v1/bulk/jobs/"+cancelled, nil); status != 202 {
		t.Fatalf("DELETE: %d %s", status, data)
	}
	// Parts of 3 resources: the running export writes about 800 parts.
	// At its 30th (the process's 50th) it holds still for 6 s: the gateway
	// dies while the projector is idle, and the rebuild starts as the
	// events flow again.
	x := s.exporter("exporter-a", "part-recorded:50:6s", "--part-max-resources", "3")
	s.waitEvent(cancelled, 30*time.Second, events.KindCancelled)
	done := s.kickOff("Patient")
	s.waitStatus(done, time.Minute, "completed")
	running := s.kickOff("Observation", "Patient")
	x.waitLine(t, time.Minute, "paused at part-recorded:50")
	evs := s.jobEvents(running)
	last := evs[len(evs)-1].Seq
	natstest.Eventually(t, 30*time.Second, "the projector never caught up", func() bool {
		return s.projectedSeq(running) >= last
	})

	s.gw.kill()
	ctx := context.Background()
	if err := s.js.DeleteKeyValue(ctx, events.BucketJobs); err != nil {
		t.Fatalf("delete the jobs bucket: %v", err)
	}
	s.startGateway()
	x.waitLine(t, time.Minute, "resumed at part-recorded:50")
	parts := len(s.objects(running))
	// Webhook deliveries of the finished job are recorded, as the notifier
	// would, every 20 ms during the rebuild and for a while after it.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { s.recordDeliveries(done, stop) })
	out := runCmd(t, time.Minute, "projections", "rebuild", "--swap", "--nats-url", s.natsURL)
	close(stop)
	wg.Wait()
	t.Logf("rebuild --swap, started with %d parts of the running job written, ended with %d: %s",
		parts, len(s.objects(running)), strings.TrimSpace(out))

	if j := s.waitStatus(running, time.Minute, "completed", "failed"); j.Status != "completed" {
		t.Fatalf("running job ended %s", j.Status)
	}
	// Held still for 6 s, three times its AckWait, the healthy export was
	// never handed to another attempt: its heartbeats kept it.
	var lines []string
	natstest.Eventually(t, 10*time.Second, "the exporter never logged the export completed", func() bool {
		lines = nil
		for line := range strings.Lines(x.out.String()) {
			if strings.Contains(line, running) && strings.Contains(line, `"attempt":`) {
				lines = append(lines, line)
			}
		}
		return len(lines) > 0 && strings.Contains(lines[len(lines)-1], "export completed")
	})
	for _, line := range lines {
		if !strings.Contains(line, `"attempt":1,`) {
			t.Errorf("the running export was redelivered: %s", line)
		}
	}
	for _, id := range []string{done, cancelled, running} {
		s.checkProjection(id)
	}
	// Replaying the log again finds nothing to change.
	out = runCmd(t, time.Minute, "projections", "rebuild", "--nats-url", s.natsURL)
	if !strings.Contains(out, "; 0 job documents differ") {
		t.Errorf("a second rebuild: %s", out)
	}
}

// checkProjection checks that the job's document, once the projector has
// caught up with the log, equals the fold of the job's events.
func (s *system) checkProjection(id string) {
	s.tb.Helper()
	jobs, err := s.js.KeyValue(context.Background(), events.BucketJobs)
	if err != nil {
		s.tb.Fatal(err)
	}
	want := fold(s.jobEvents(id))
	var got events.Job
	natstest.Eventually(s.tb, 30*time.Second, "job "+id+" never caught up with its log", func() bool {
		got = readJob(s.tb, jobs, id)
		return got.LastSeq >= want.LastSeq
	})
	if diff := cmp.Diff(want, got); diff != "" {
		s.tb.Errorf("job %s (%s) differs from the fold of its events (-fold +projection):\n%s", id, want.Status, diff)
	}
}

// recordDeliveries publishes a queued webhook delivery of the job every
// 20 ms until stop is closed, and 20 more after.
func (s *system) recordDeliveries(id string, stop <-chan struct{}) {
	ctx := context.Background()
	after := -1
	for i := 0; after != 0; i++ {
		select {
		case <-stop:
			if after < 0 {
				after = 20
			}
		case <-time.After(20 * time.Millisecond):
		}
		if after > 0 {
			after--
		}
		d := fmt.Sprintf("dlv_%04d", i)
		ev := events.New(events.MsgID(id, events.KindWebhook, d), time.Now(), tenant, id, &events.WebhookAttempted{
			Subscription: "whs_test", URL: "https://example.com/hook", DeliveryID: d, Event: "export.completed"})
		if _, err := broker.Publish(ctx, s.js, ev, ev.ID); err != nil {
			s.tb.Errorf("record delivery: %v", err)
			return
		}
	}
}

// projectedSeq returns the LastSeq of the job's document (0 if none).
func (s *system) projectedSeq(id string) uint64 {
	s.tb.Helper()
	jobs, err := s.js.KeyValue(context.Background(), events.BucketJobs)
	if err != nil {
		s.tb.Fatal(err)
	}
	return readJob(s.tb, jobs, id).LastSeq
}

// fold folds a job's events as the projector does, through JSON as the
// bucket stores it.
func fold(evs []events.Event) events.Job {
	var j events.Job
	for _, ev := range evs {
		j = events.Apply(j, ev)
	}
	b, _ := json.Marshal(j)
	var out events.Job
	_ = json.Unmarshal(b, &out)
	return out
}

func readJob(tb testing.TB, kv jetstream.KeyValue, id string) events.Job {
	tb.Helper()
	e, err := kv.Get(context.Background(), events.JobKey(tenant, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return events.Job{}
	}
	if err != nil {
		tb.Fatal(err)
	}
	var j events.Job
	if err := json.Unmarshal(e.Value(), &j); err != nil {
		tb.Fatal(err)
	}
	return j
}
