// Package projector folds the job event log into the job documents the
// gateways read: one document per job in the jobs bucket, written by nothing
// else. The fold is [events.Apply], idempotent by stream sequence, so a
// redelivered event changes nothing and replaying the whole stream (see
// [Rebuild]) gives the same documents.
package projector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
)

// Config tunes a Projector.
type Config struct {
	// Durable names the consumer (default "projector"). Replicas share it.
	Durable string
	// AckWait is how long an event handed to a projector that stopped
	// before folding it holds up the projection (default 5s). A fold takes
	// milliseconds; as one event is in flight at a time, keep this short.
	AckWait time.Duration
}

// Deps are what a Projector works with.
type Deps struct {
	JS  jetstream.JetStream
	KV  jetstream.KeyValue // the jobs bucket
	Log zerolog.Logger
}

// Projector keeps the jobs bucket up to date with the log.
type Projector struct {
	cfg  Config
	deps Deps
}

// New returns a Projector.
func New(cfg Config, deps Deps) (*Projector, error) {
	if deps.JS == nil || deps.KV == nil {
		return nil, errors.New("projector: JetStream and the jobs bucket are required")
	}
	if cfg.Durable == "" {
		cfg.Durable = "projector"
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = 5 * time.Second
	}
	return &Projector{cfg: cfg, deps: deps}, nil
}

// Run folds events until ctx is done. The consumer lets one event be in
// flight at a time, across all replicas, so events are folded in stream
// order even when one is redelivered.
func (p *Projector) Run(ctx context.Context) error {
	if err := p.replayIfLost(ctx); err != nil {
		return err
	}
	c, err := p.deps.JS.CreateOrUpdateConsumer(ctx, events.StreamBulk, jetstream.ConsumerConfig{
		Durable:       p.cfg.Durable,
		Description:   "folds job events into the jobs bucket",
		FilterSubject: events.AllSubjects,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       p.cfg.AckWait,
		MaxAckPending: 1,
		MaxDeliver:    -1,
	})
	if err != nil {
		return fmt.Errorf("projector consumer: %w", err)
	}
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		batch, err := c.Fetch(1, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			if ctx.Err() == nil {
				p.deps.Log.Warn().Err(err).Msg("fetch event")
				wait(ctx, time.Second)
			}
			continue
		}
		for msg := range batch.Messages() {
			p.handle(ctx, msg)
		}
		cancel()
	}
	return nil
}

// replayIfLost starts the projection over from the first event of the log
// when the jobs bucket is empty although the projector has folded events
// before: the bucket was deleted or lost, and resuming at the consumer's
// position would leave every job without a later event unprojected. The
// consumer is removed, so Run creates it again at the start of the log;
// folding is idempotent, so a replay by two projectors at once is harmless.
func (p *Projector) replayIfLost(ctx context.Context) error {
	st, err := p.deps.KV.Status(ctx)
	if err != nil || st.Values() > 0 {
		return nil
	}
	c, err := p.deps.JS.Consumer(ctx, events.StreamBulk, p.cfg.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("projector consumer: %w", err)
	}
	if c.CachedInfo().Delivered.Stream == 0 {
		return nil
	}
	p.deps.Log.Warn().Uint64("stream_seq", c.CachedInfo().Delivered.Stream).
		Msg("the jobs bucket is empty but events were folded before: replaying the log from the start")
	if err := p.deps.JS.DeleteConsumer(ctx, events.StreamBulk, p.cfg.Durable); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("reset projector consumer: %w", err)
	}
	return nil
}

// handle decides the acknowledgement of one event: folded -> Ack;
// unreadable -> Term; store failure -> Nak (it comes back first, as the
// consumer lets nothing else through meanwhile).
func (p *Projector) handle(ctx context.Context, msg jetstream.Msg) {
	ev, err := broker.DecodeMsg(msg)
	if err != nil {
		p.deps.Log.Error().Err(err).Str("subject", msg.Subject()).Msg("skipping unreadable event")
		_ = msg.Term()
		return
	}
	if err := p.fold(ctx, ev); err != nil {
		if ctx.Err() == nil {
			p.deps.Log.Warn().Err(err).Str("job_id", ev.JobID).Uint64("stream_seq", ev.Seq).Msg("fold event")
		}
		_ = msg.NakWithDelay(100 * time.Millisecond)
		return
	}
	_ = msg.Ack()
}

// ErrNoJob is returned by [Fold] for an event of a job that has no document
// while the event cannot create one (it is not the request).
var ErrNoJob = errors.New("no job document")

// fold folds ev into the live bucket. An event of a job whose document is
// gone (the bucket was deleted or lost) is not dropped: the document is
// built again from the job's own events in the log, up to ev, so the
// projection heals itself without a gap.
func (p *Projector) fold(ctx context.Context, ev events.Event) error {
	err := Fold(ctx, p.deps.KV, ev)
	if !errors.Is(err, ErrNoJob) {
		return err
	}
	evs, err := broker.JobEvents(ctx, p.deps.JS, ev.Tenant, ev.JobID)
	if err != nil {
		return err
	}
	var job events.Job
	for _, e := range evs {
		if e.Seq > ev.Seq {
			break
		}
		job = events.Apply(job, e)
	}
	if job.ID == "" {
		return nil // the request itself is gone from the log (its limits): nothing to attach to
	}
	data, err := json.Marshal(job)
	if err != nil {
		return err
	}
	_, err = p.deps.KV.Create(ctx, events.JobKey(ev.Tenant, ev.JobID), data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return Fold(ctx, p.deps.KV, ev) // written meanwhile: fold onto it
	}
	if err == nil {
		p.deps.Log.Info().Str("job_id", ev.JobID).Uint64("stream_seq", ev.Seq).Msg("job document rebuilt from its events")
	}
	return err
}

// Fold applies one event to its job document in kv, with optimistic
// concurrency, so two projectors can never lose each other's update.
func Fold(ctx context.Context, kv jetstream.KeyValue, ev events.Event) error {
	key := events.JobKey(ev.Tenant, ev.JobID)
	for range 10 {
		var job events.Job
		var rev uint64
		entry, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return fmt.Errorf("get job %s: %w", key, err)
		default:
			if err := json.Unmarshal(entry.Value(), &job); err != nil {
				return fmt.Errorf("decode job %s: %w", key, err)
			}
			rev = entry.Revision()
		}
		next := events.Apply(job, ev)
		if next.ID == "" {
			return ErrNoJob
		}
		if next.LastSeq == job.LastSeq && rev != 0 {
			return nil // already folded
		}
		data, err := json.Marshal(next)
		if err != nil {
			return err
		}
		if rev == 0 {
			_, err = kv.Create(ctx, key, data)
		} else {
			_, err = kv.Update(ctx, key, data, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // another projector wrote first: fold onto its document
		}
		if err != nil {
			return fmt.Errorf("put job %s: %w", key, err)
		}
		return nil
	}
	return fmt.Errorf("put job %s: too many concurrent updates", key)
}

// Rebuild replays the whole log from its first event into kv, which should
// be empty (a fresh bucket), and returns how many events it read. The live
// projector is not involved: compare or swap the result as needed. It
// reads with batched direct gets, which answer on any replica of a
// clustered stream and never end short without an error.
func Rebuild(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue) (int, error) {
	n := 0
	err := broker.ReadSubject(ctx, js, events.StreamBulk, events.AllSubjects, func(msg *nats.Msg, seq uint64) error {
		ev, err := events.Decode(msg.Data)
		if err != nil || ev.Subject() != broker.StoredSubject(msg) {
			return nil // the live projector terminates and reports it
		}
		ev.Seq = seq
		if err := Fold(ctx, kv, ev); err != nil && !errors.Is(err, ErrNoJob) {
			return err // (ErrNoJob: the job's request is gone from the log)
		}
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("rebuild after %d events: %w", n, err)
	}
	return n, nil
}

func wait(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
