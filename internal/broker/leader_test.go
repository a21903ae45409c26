package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
)

// The leader's last sequence of a job's events is that of the job's last
// event, whatever other jobs published after it; a job without events has
// none. JobEvents then returns every event up to it.
func TestLeaderLastSeqAndJobEvents(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	ctx := context.Background()
	tn := events.TenantOf("acme", events.ModeTest)
	jobA, jobB, jobC := "job_"+ulid.Make().String(), "job_"+ulid.Make().String(), "job_"+ulid.Make().String()
	publish := func(job string, p events.Payload, part string) uint64 {
		t.Helper()
		id := events.MsgID(job, p.Kind(), part)
		seq, err := broker.Publish(ctx, a.JS, events.New(id, time.Now(), tn, job, p), id)
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	publish(jobA, &events.ExportRequested{ResourceTypes: []string{"Patient"}}, "")
	publish(jobA, &events.ExportStarted{WorkerID: "w", Attempt: 1}, "")
	lastA := publish(jobA, &events.ChunkWritten{ResourceType: "Patient", Part: 1}, "Patient.1")
	publish(jobB, &events.ExportRequested{ResourceTypes: []string{"Patient"}}, "")

	for _, tc := range []struct {
		job  string
		want uint64
	}{{jobA, lastA}, {jobC, 0}} {
		got, err := broker.LeaderLastSeq(ctx, a.JS, events.StreamBulk, events.JobSubjects(tn, tc.job))
		if err != nil || got != tc.want {
			t.Errorf("LeaderLastSeq(%s) = %d, %v; want %d", tc.job, got, err, tc.want)
		}
	}
	evs, err := broker.JobEvents(ctx, a.JS, tn, jobA)
	if err != nil || len(evs) != 3 || evs[2].Seq != lastA {
		t.Errorf("JobEvents = %d events, %v; want 3 ending at %d", len(evs), err, lastA)
	}
	if evs, err := broker.JobEvents(ctx, a.JS, tn, jobC); err != nil || len(evs) != 0 {
		t.Errorf("JobEvents of a job without events = %d events, %v", len(evs), err)
	}
}
