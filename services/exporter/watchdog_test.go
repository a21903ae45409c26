package exporter

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
)

// A worker that is alive but reads nothing stops vouching for its task:
// the task's context ends with errStuck and JetStream redelivers it.
func TestWatchdogGivesUpAStuckTask(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	ctx := context.Background()
	s, err := a.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "WD", Subjects: []string{"wd"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.JS.Publish(ctx, "wd", []byte("task")); err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "wd", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := c.Next()
	if err != nil {
		t.Fatal(err)
	}
	x, err := New(Config{AckWait: time.Second, StuckAfter: 300 * time.Millisecond}, Deps{Assets: a, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	var progress atomic.Int64
	work, stuck := context.WithCancelCause(ctx)
	stop := x.heartbeat(msg, &progress, stuck)
	defer stop()
	// Progress keeps it alive past StuckAfter...
	records := time.NewTicker(10 * time.Millisecond) // the task's work: a record every 10ms
	for end := time.Now().Add(600 * time.Millisecond); time.Now().Before(end); <-records.C {
		progress.Add(1)
		if work.Err() != nil {
			t.Fatal("a task making progress was given up")
		}
	}
	records.Stop()
	// ...and without it the watchdog gives up.
	natstest.Eventually(t, 5*time.Second, "stuck task not given up", func() bool {
		return errors.Is(context.Cause(work), errStuck)
	})
	again, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("stuck task not redelivered: %v", err)
	}
	if md, _ := again.Metadata(); md.NumDelivered != 2 {
		t.Errorf("delivered %d times, want 2", md.NumDelivered)
	}
}
