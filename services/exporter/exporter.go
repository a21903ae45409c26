package exporter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
)

// Deps are what an Exporter works with.
type Deps struct {
	Assets *broker.Assets
	Log    zerolog.Logger
	Now    func() time.Time
}

// Exporter runs export jobs taken from the shared consumer. Run it once per
// process; it runs Config.Concurrency jobs at a time.
type Exporter struct {
	cfg Config
	a   *broker.Assets
	js  jetstream.JetStream
	log zerolog.Logger
	now func() time.Time
}

// New returns an Exporter.
func New(cfg Config, deps Deps) (*Exporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("exporter config: %w", err)
	}
	if deps.Assets == nil {
		return nil, errors.New("exporter: no JetStream assets")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	cfg = cfg.withDefaults()
	return &Exporter{cfg: cfg, a: deps.Assets, js: deps.Assets.JS,
		log: deps.Log.With().Str("worker_id", cfg.WorkerID).Logger(), now: deps.Now}, nil
}

// Run takes work until ctx is done. Work interrupted by ctx is handed back
// to its consumer at once so another worker can resume it.
//
// Three durable consumers, each shared by every replica: "exporter" plans a
// requested job (its snapshot, and its types grouped into tasks);
// "exporter-tasks" runs the tasks, Concurrency at a time per process, so the
// tasks of one export run on several workers at once; "exporter-cancel"
// removes the files of cancelled jobs no worker is running.
func (x *Exporter) Run(ctx context.Context) error {
	consumer := func(name, desc string, kind events.Kind, ackWait time.Duration) (jetstream.Consumer, error) {
		c, err := x.js.CreateOrUpdateConsumer(ctx, events.StreamBulk, jetstream.ConsumerConfig{
			Durable:       name,
			Description:   desc,
			FilterSubject: events.KindSubjects(kind),
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       ackWait,
			// Attempts are counted by the worker (NumDelivered), which fails
			// the job itself: the server giving up silently would leave it
			// stuck.
			MaxDeliver:    -1,
			MaxAckPending: 10_000,
		})
		if err != nil {
			return nil, fmt.Errorf("consumer %s: %w", name, err)
		}
		return c, nil
	}
	plans, err := consumer(x.cfg.Durable, "plans requested exports: snapshot and tasks", events.KindRequested, x.cfg.AckWait)
	if err != nil {
		return err
	}
	tasks, err := consumer(x.cfg.Durable+"-tasks", "export tasks: some resource types of one job each, read in one pass", events.KindTask, x.cfg.AckWait)
	if err != nil {
		return err
	}
	cancels, err := consumer(x.cfg.Durable+"-cancel", "removes the files of cancelled jobs no worker is running", events.KindCancel, x.cfg.AckWait)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() { x.loop(ctx, plans, x.handlePlan) })
	for range x.cfg.Concurrency {
		wg.Go(func() { x.loop(ctx, tasks, x.handleTask) })
	}
	wg.Go(func() { x.loop(ctx, cancels, x.handleCancel) })
	wg.Go(func() { x.sweep(ctx) })
	wg.Wait()
	return nil
}

// loop fetches one message at a time: a prefetched task would age in the
// client with its ack timer running and could be delivered twice.
func (x *Exporter) loop(ctx context.Context, c jetstream.Consumer, handle func(context.Context, jetstream.Msg)) {
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		batch, err := c.Fetch(1, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			if ctx.Err() == nil {
				x.log.Warn().Err(err).Msg("fetch")
				wait(ctx, time.Second)
			}
			continue
		}
		for msg := range batch.Messages() {
			handle(ctx, msg)
		}
		cancel()
	}
}

// handlePlan fixes a requested job's snapshot and queues its tasks. Every
// step is idempotent (de-duplicated by Nats-Msg-Id, and only the tasks the
// log lacks are queued), so a redelivered plan changes nothing.
func (x *Exporter) handlePlan(ctx context.Context, msg jetstream.Msg) {
	ev, err := broker.DecodeMsg(msg)
	if err != nil {
		x.log.Error().Err(err).Str("subject", msg.Subject()).Msg("terminating unreadable job event")
		_ = msg.Term()
		return
	}
	x.settle(ctx, msg, ev, func(ctx context.Context, st *jobState, log zerolog.Logger) error {
		return x.plan(ctx, ev, st, log)
	})
}

// handleTask exports the types of one task of one job.
func (x *Exporter) handleTask(ctx context.Context, msg jetstream.Msg) {
	ev, err := broker.DecodeMsg(msg)
	task, ok := ev.Data.(*events.ExportTaskQueued)
	if err != nil || !ok {
		x.log.Error().Err(err).Str("subject", msg.Subject()).Msg("terminating unreadable task event")
		_ = msg.Term()
		return
	}
	x.settle(ctx, msg, ev, func(ctx context.Context, st *jobState, log zerolog.Logger) error {
		return x.runTask(ctx, ev, task.Types(), st, log.With().Strs("resource_types", task.Types()).Logger())
	})
}

// settle runs one unit of work and decides its acknowledgement, in one
// place: done, failed for good, or cancelled -> Ack; transient failure ->
// NakWithDelay; shutdown -> Nak so another worker resumes it at once.
func (x *Exporter) settle(ctx context.Context, msg jetstream.Msg, ev events.Event,
	work func(context.Context, *jobState, zerolog.Logger) error) {
	md, _ := msg.Metadata()
	attempt := int(md.NumDelivered)
	log := x.log.With().Str("tenant", string(ev.Tenant)).Str("job_id", ev.JobID).Int("attempt", attempt).Logger()
	st, err := x.jobState(ctx, ev.Tenant, ev.JobID)
	switch {
	case err != nil:
	case st.terminal():
		_ = msg.Ack()
		return
	case st.cancel != nil:
		err = errCancelled
	case attempt > x.cfg.MaxAttempts:
		x.fail(ctx, ev, "too_many_attempts", fmt.Sprintf("the export did not finish in %d attempts; its workers stopped without reporting an error (see the exporter logs)", x.cfg.MaxAttempts), attempt-1)
		_ = msg.Ack()
		return
	default:
		wctx, stopWatch, werr := x.watchEnd(ctx, ev.Tenant, ev.JobID)
		if werr != nil {
			err = werr
			break
		}
		wctx, stuck := context.WithCancelCause(wctx)
		stopBeat := x.heartbeat(msg, &st.progress, stuck)
		err = work(wctx, st, log)
		stopBeat()
		stuck(nil)
		if cause := context.Cause(wctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause
		}
		stopWatch()
	}
	var perm *permanentError
	switch {
	case err == nil, errors.Is(err, errJobEnded):
		_ = msg.Ack()
	case errors.Is(err, errCancelled):
		if cerr := x.cleanupCancelled(ctx, ev.Tenant, ev.JobID); cerr != nil {
			log.Warn().Err(cerr).Msg("clean up cancelled job")
			_ = msg.NakWithDelay(x.cfg.RetryDelay)
			return
		}
		log.Info().Msg("export cancelled")
		_ = msg.Ack()
	case ctx.Err() != nil:
		_ = msg.Nak()
	case errors.As(err, &perm) || attempt >= x.cfg.MaxAttempts:
		code, message := describe(err)
		log.Error().Err(err).Str("code", code).Msg("export failed")
		x.fail(ctx, ev, code, message, attempt)
		_ = msg.Ack()
	default:
		delay := min(x.cfg.RetryDelay<<(attempt-1), time.Minute)
		log.Warn().Err(err).Dur("retry_in", delay).Msg("export attempt failed")
		_ = msg.NakWithDelay(delay)
	}
}

func (x *Exporter) fail(ctx context.Context, ev events.Event, code, message string, attempts int) {
	f := events.New(events.MsgID(ev.JobID, events.KindFailed, ""), x.now(), ev.Tenant, ev.JobID,
		&events.ExportFailed{Code: code, Message: message, Attempts: attempts})
	if _, err := broker.Publish(ctx, x.js, f, f.ID); err != nil {
		x.log.Error().Err(err).Str("job_id", ev.JobID).Msg("record failed job")
	}
}

// heartbeat tells JetStream the work is still going, well inside AckWait,
// until the returned stop is called, as long as it makes progress: when
// progress has not moved for StuckAfter, it stops vouching for the work and
// ends it with errStuck, so that it is retried (or fails) rather than held
// forever by a worker that is alive but hung.
func (x *Exporter) heartbeat(msg jetstream.Msg, progress *atomic.Int64, stuck context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(min(x.cfg.AckWait/3, x.cfg.StuckAfter/2))
		defer t.Stop()
		last, since := progress.Load(), x.now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if p := progress.Load(); p != last {
				last, since = p, x.now()
			} else if x.now().Sub(since) >= x.cfg.StuckAfter {
				stuck(fmt.Errorf("%w: no record read for %s", errStuck, x.cfg.StuckAfter))
				return
			}
			_ = msg.InProgress()
		}
	})
	return func() { close(done); wg.Wait() }
}

// handleCancel removes the files of a cancelled job that no worker is
// running (pending, or already completed); a running worker hears the
// cancel itself and cleans up.
func (x *Exporter) handleCancel(ctx context.Context, msg jetstream.Msg) {
	ev, err := broker.DecodeMsg(msg)
	if err != nil {
		_ = msg.Term()
		return
	}
	st, err := x.jobState(ctx, ev.Tenant, ev.JobID)
	if err != nil {
		_ = msg.NakWithDelay(x.cfg.RetryDelay)
		return
	}
	if st.cancelled || st.expired {
		_ = msg.Ack()
		return
	}
	if st.running() {
		// The worker on it stops within moments; check again until it has.
		_ = msg.NakWithDelay(x.cfg.RetryDelay)
		return
	}
	if err := x.cleanupCancelled(ctx, ev.Tenant, ev.JobID); err != nil {
		x.log.Warn().Err(err).Str("job_id", ev.JobID).Msg("clean up cancelled job")
		_ = msg.NakWithDelay(x.cfg.RetryDelay)
		return
	}
	_ = msg.Ack()
}

func wait(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
