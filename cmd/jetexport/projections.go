package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/services/projector"
)

// rebuildBucket is where `projections rebuild` folds the log.
const rebuildBucket = events.BucketJobs + "_rebuild"

func runProjections(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rebuild" {
		fmt.Fprintln(stderr, "usage: jetexport projections rebuild [--nats-url URL] [--swap]")
		return errors.New("projections: the only subcommand is rebuild")
	}
	fs := newFlags("projections rebuild", stderr)
	natsURL := fs.String("nats-url", env("nats-url", "nats://127.0.0.1:4222"), "NATS server URL")
	swap := fs.Bool("swap", false, "replace the live jobs bucket's documents with the rebuilt ones")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nc, js, err := broker.Connect(cctx, *natsURL, "jetexport-projections")
	if err != nil {
		return fmt.Errorf("cannot reach NATS at %s (is `jetexport serve` running?): %w", *natsURL, err)
	}
	defer nc.Close()
	a, err := broker.Open(cctx, js)
	if err != nil {
		return err
	}
	n, diff, err := rebuild(ctx, a, *swap)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "replayed %d events into bucket %s; %d job documents differ from the live bucket %s\n",
		n, rebuildBucket, diff, events.BucketJobs)
	if *swap {
		fmt.Fprintf(stdout, "copied the rebuilt documents into %s\n", events.BucketJobs)
	}
	return nil
}

// rebuild replays the log into a fresh bucket, compares it with the live
// one and, with swap, writes the rebuilt documents over the live ones.
func rebuild(ctx context.Context, a *broker.Assets, swap bool) (replayed, diff int, err error) {
	js := a.JS
	if err := js.DeleteKeyValue(ctx, rebuildBucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return 0, 0, err
	}
	fresh, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: rebuildBucket,
		Description: "job documents rebuilt from BULK by `jetexport projections rebuild`", Replicas: a.Config.Replicas})
	if err != nil {
		return 0, 0, err
	}
	n, err := projector.Rebuild(ctx, js, fresh)
	if err != nil {
		return n, 0, err
	}
	keys, err := fresh.ListKeys(ctx)
	if err != nil {
		return n, 0, err
	}
	for k := range keys.Keys() {
		rebuilt, err := fresh.Get(ctx, k)
		if err != nil {
			return n, diff, err
		}
		live, err := a.Jobs.Get(ctx, k)
		if err == nil && string(live.Value()) == string(rebuilt.Value()) {
			continue
		}
		diff++
		if swap {
			if err := swapIn(ctx, a, k, rebuilt.Value()); err != nil {
				return n, diff, err
			}
		}
	}
	return n, diff, nil
}

func lastSeq(doc []byte) uint64 {
	var j events.Job
	if json.Unmarshal(doc, &j) != nil {
		return 0
	}
	return j.LastSeq
}

// swapIn sets a job's live document to the fold of all its events, read
// afresh, without losing what the live projector folds meanwhile: it writes
// with compare-and-set, only a fold at least as new as the live document,
// and starts over if the projector wrote first. (Folding the missing events
// onto the live document would not do: while the bucket was gone, the live
// projector dropped events it had no document for, then folded later ones,
// and folding is idempotent by sequence, so the dropped ones would be
// skipped for good.)
func swapIn(ctx context.Context, a *broker.Assets, key string, rebuilt []byte) error {
	var job events.Job
	if err := json.Unmarshal(rebuilt, &job); err != nil {
		return err
	}
	live, err := a.Jobs.Get(ctx, key)
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return err
	}
	evs, err := broker.JobEvents(ctx, a.JS, job.Tenant, job.ID)
	if err != nil {
		return err
	}
	var full events.Job
	for _, ev := range evs {
		full = events.Apply(full, ev)
	}
	doc, err := json.Marshal(full)
	if err != nil {
		return err
	}
	switch {
	case live == nil:
		_, err = a.Jobs.Create(ctx, key, doc)
	case lastSeq(live.Value()) > full.LastSeq:
		// The live projector folded an event published after our read:
		// its document is newer, and whole (it rebuilds a missing
		// document from the log rather than dropping events).
		return nil
	default:
		_, err = a.Jobs.Update(ctx, key, doc, live.Revision())
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		// The live projector wrote first: it is folding this job's events
		// in order onto a document it built from the log, and converges on
		// the same fold. Leave the document to it.
		return nil
	}
	if err != nil {
		return fmt.Errorf("swap %s: %w", key, err)
	}
	return nil
}
