package exporter_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
	"github.com/jetexport/jetexport/services/exporter"
)

// gate holds every worker at its first record until it is opened, and
// counts the workers waiting at it.
type gate struct {
	once    sync.Once
	open    chan struct{}
	waiting atomic.Int64
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

func (g *gate) pause(point string) {
	if point != "record" {
		return
	}
	select {
	case <-g.open:
		return
	default:
	}
	g.waiting.Add(1)
	<-g.open
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// exporters runs n exporter processes' worth of Exporters in this process
// until the test ends.
func exporters(tb testing.TB, a *broker.Assets, n int, cfg exporter.Config) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		c := cfg
		c.WorkerID = fmt.Sprintf("w%d", i+1)
		x, err := exporter.New(c, exporter.Deps{Assets: a, Log: zerolog.New(zerolog.NewTestWriter(tb)).Level(zerolog.WarnLevel)})
		if err != nil {
			tb.Fatal(err)
		}
		wg.Go(func() { _ = x.Run(ctx) })
	}
	tb.Cleanup(func() { cancel(); wg.Wait() })
}

func requestFor(tb testing.TB, a *broker.Assets, t events.Tenant, types ...string) string {
	tb.Helper()
	id := "job_" + ulid.Make().String()
	ev := events.New(events.MsgID(id, events.KindRequested, ""), time.Now(), t, id,
		&events.ExportRequested{ResourceTypes: types, Level: events.LevelSystem})
	if _, err := broker.Publish(context.Background(), a.JS, ev, ev.ID); err != nil {
		tb.Fatal(err)
	}
	return id
}

// logged waits for a job's event of kind k and returns it.
func logged(tb testing.TB, a *broker.Assets, t events.Tenant, id string, k events.Kind) events.Event {
	tb.Helper()
	var ev events.Event
	natstest.Eventually(tb, 60*time.Second, fmt.Sprintf("no %s event for %s", k, id), func() bool {
		var err error
		ev, err = broker.LastEvent(context.Background(), a.Stream, t, id, k)
		if err != nil && !errors.Is(err, broker.ErrNotFound) {
			tb.Fatal(err)
		}
		return err == nil
	})
	return ev
}

// TestFairAcrossTenants: tenant A's export of six large types, six tasks,
// is queued first and holds both workers; tenant B's one small type is queued after.
// B must not wait for A's whole queue: it completes before A does, after
// at most the tasks A had running when B arrived.
func TestFairAcrossTenants(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	tenantA, tenantB := events.TenantOf("acme", events.ModeTest), events.TenantOf("beta", events.ModeTest)
	typesA := []string{"Patient", "Encounter", "Observation", "Condition", "Procedure", "Immunization"}
	for _, typ := range typesA {
		putRecords(t, a, tenantA, typ, 0, 300)
	}
	putRecords(t, a, tenantB, "Patient", 0, 1)

	g := newGate()
	t.Cleanup(g.release)
	// TaskResources 1: every type is a task of its own (each has 300).
	exporters(t, a, 2, exporter.Config{Concurrency: 1, PartMaxResources: 50, TaskResources: 1, Pause: g.pause})

	jobA := requestFor(t, a, tenantA, typesA...)
	natstest.Eventually(t, 30*time.Second, "both workers never took one of A's tasks", func() bool {
		return g.waiting.Load() == 2
	})
	jobB := requestFor(t, a, tenantB, "Patient")
	logged(t, a, tenantB, jobB, events.KindTask)
	g.release()

	doneB := logged(t, a, tenantB, jobB, events.KindCompleted)
	doneA := logged(t, a, tenantA, jobA, events.KindCompleted)
	if doneB.Seq > doneA.Seq {
		t.Errorf("B completed at stream sequence %d, after A at %d", doneB.Seq, doneA.Seq)
	}
	evs, err := broker.JobEvents(context.Background(), a.JS, tenantA, jobA)
	if err != nil {
		t.Fatal(err)
	}
	before, workers := 0, map[string]int{}
	for _, ev := range evs {
		if f, ok := ev.Data.(*events.ExportTaskFinished); ok {
			workers[f.WorkerID]++
			if ev.Seq < doneB.Seq {
				before++
			}
		}
	}
	// First in, first out, B's task waits behind all six of A's: four of
	// them end before a worker is free for it.
	if before >= 4 {
		t.Errorf("%d of A's %d tasks finished before B's one-record export completed", before, len(typesA))
	}
	// A's export was still shared by both workers.
	if len(workers) != 2 {
		t.Errorf("A's tasks ran on workers %v, want both", workers)
	}
}
