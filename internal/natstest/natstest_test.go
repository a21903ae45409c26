package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
)

func TestSetupCreatesEveryAsset(t *testing.T) {
	a := Assets(t, broker.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := a.JS.Stream(ctx, broker.FHIRStream)
	if err != nil {
		t.Fatal(err)
	}
	if !s.CachedInfo().Config.AllowAtomicPublish {
		t.Error("fhir stream does not allow atomic publish")
	}
	// Setup is idempotent: a second gateway starting against the same server.
	if _, err := broker.Setup(ctx, a.JS, broker.Config{}); err != nil {
		t.Fatalf("second setup: %v", err)
	}
	ev := events.New("e1", time.Now(), events.TenantOf("acme", events.ModeTest), "job_01JABCDEFGHJKMNPQRSTVWXYZ0",
		&events.ExportRequested{ResourceTypes: []string{"Patient"}, Level: events.LevelSystem})
	seq, err := broker.Publish(ctx, a.JS, ev, events.MsgID(ev.JobID, events.KindRequested, ""))
	if err != nil {
		t.Fatal(err)
	}
	dup, err := broker.Publish(ctx, a.JS, ev, events.MsgID(ev.JobID, events.KindRequested, ""))
	if err != nil || dup != seq {
		t.Fatalf("duplicate publish: seq %d err %v, want %d", dup, err, seq)
	}
	got, err := broker.JobEvents(ctx, a.JS, ev.Tenant, ev.JobID)
	if err != nil || len(got) != 1 || got[0].Seq != seq {
		t.Fatalf("JobEvents = %+v, %v", got, err)
	}
	last, err := broker.LastEvent(ctx, a.Stream, ev.Tenant, ev.JobID, events.KindRequested)
	if err != nil || last.Seq != seq {
		t.Fatalf("LastEvent = %+v, %v", last, err)
	}
}
