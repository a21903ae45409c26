package exporter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/fhir"
	"github.com/jetexport/jetexport/internal/fhirstore"
)

// errCancelled ends an export whose job was cancelled.
var errCancelled = errors.New("export cancelled")

// errJobEnded stops a task whose job another task ended (it failed).
var errJobEnded = errors.New("job ended by another task")

// errStuck ends a task that made no progress for Config.StuckAfter.
var errStuck = errors.New("export stuck")

// permanentError is a failure no retry can mend; the job fails at once.
type permanentError struct {
	code string
	err  error
}

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// jobState is what the log says about one job: what earlier attempts did.
type jobState struct {
	req       *events.ExportRequested
	started   *events.ExportStarted // of the first attempt: its snapshot holds for all
	queued    map[string]bool       // types whose task is queued
	finished  map[string]bool       // types whose every part is stored
	chunks    map[string][]events.ChunkWritten
	completed bool
	failed    bool
	cancel    *events.ExportCancelRequested
	cancelled bool
	expired   bool
	// progress counts records read by this worker's attempt, for the
	// stuck-task watchdog.
	progress atomic.Int64
	// mu guards chunks while a task's writers record their parts.
	mu sync.Mutex
}

func (s *jobState) terminal() bool { return s.completed || s.failed || s.cancelled || s.expired }

// running reports whether a worker has the job in hand.
func (s *jobState) running() bool { return s.started != nil && !s.terminal() && s.cancel == nil }

// record adds a stored part, replacing an earlier record of the same part.
func (s *jobState) record(c events.ChunkWritten) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := s.chunks[c.ResourceType]
	i := slices.IndexFunc(parts, func(p events.ChunkWritten) bool { return p.Part == c.Part })
	if i >= 0 {
		parts[i] = c
	} else {
		parts = append(parts, c)
	}
	slices.SortFunc(parts, func(a, b events.ChunkWritten) int { return a.Part - b.Part })
	s.chunks[c.ResourceType] = parts
}

// resume returns where the export of one type stands: the last part
// stored, the cursor after which to continue, and whether the type is done.
func (s *jobState) resume(typ string) (lastPart int, cursor uint64, done bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := s.chunks[typ]
	if len(parts) == 0 {
		return 0, 0, false
	}
	last := parts[len(parts)-1]
	return last.Part, last.Cursor, last.Last
}

func (x *Exporter) jobState(ctx context.Context, t events.Tenant, jobID string) (*jobState, error) {
	evs, err := broker.JobEvents(ctx, x.js, t, jobID)
	if err != nil {
		return nil, err
	}
	st := &jobState{chunks: map[string][]events.ChunkWritten{}, queued: map[string]bool{}, finished: map[string]bool{}}
	for _, ev := range evs {
		switch p := ev.Data.(type) {
		case *events.ExportRequested:
			st.req = p
		case *events.ExportStarted:
			if st.started == nil {
				st.started = p
			}
		case *events.ExportTaskQueued:
			for _, typ := range p.Types() {
				st.queued[typ] = true
			}
		case *events.ExportTaskFinished:
			st.finished[p.ResourceType] = true
		case *events.ChunkWritten:
			st.record(*p)
		case *events.ExportCompleted:
			st.completed = true
		case *events.ExportFailed:
			st.failed = true
		case *events.ExportCancelRequested:
			st.cancel = p
		case *events.ExportCancelled:
			st.cancelled = true
		case *events.ExportExpired:
			st.expired = true
		}
	}
	return st, nil
}

// plan fixes the job's snapshot (once: every attempt and task reads as of
// it), finishes the types that have no record, and queues the first
// Config.JobTasks of the others (see topUp).
func (x *Exporter) plan(ctx context.Context, req events.Event, st *jobState, log zerolog.Logger) error {
	if st.req == nil {
		st.req = req.Data.(*events.ExportRequested)
	}
	types := jobTypes(st.req)
	if st.started == nil {
		// The time first, then the bound: every write acknowledged before
		// transactionTime is at or below the bound, as the IG requires.
		txTime := x.now().UTC()
		bound, err := fhirstore.SnapshotSeq(ctx, x.js)
		if err != nil {
			return err
		}
		started := &events.ExportStarted{WorkerID: x.cfg.WorkerID, Attempt: 1,
			TransactionTime: txTime, SnapshotSeq: bound, Totals: map[string]int64{}}
		for _, typ := range types {
			n, err := fhirstore.CountKeys(ctx, x.js, req.Tenant, typ)
			if err != nil {
				return err
			}
			started.Totals[typ] = n
		}
		started.Tasks = groupTypes(types, started.Totals, x.cfg.TaskResources)
		if err := x.publish(ctx, req.Tenant, req.JobID, started, ""); err != nil {
			return err
		}
		st.started = started
		log.Info().Uint64("snapshot_seq", bound).Int("types", len(started.Totals)).Int("tasks", len(started.Tasks)).Msg("export started")
	}
	for _, typ := range types {
		if st.queued[typ] || st.finished[typ] {
			continue
		}
		// The count ran after the snapshot was fixed, so a type with no key
		// then has none in the snapshot: it is finished without a task.
		if n, ok := st.started.Totals[typ]; ok && n == 0 {
			done := &events.ExportTaskFinished{ResourceType: typ, WorkerID: x.cfg.WorkerID}
			if err := x.publish(ctx, req.Tenant, req.JobID, done, typ); err != nil {
				return err
			}
		}
	}
	return x.maybeComplete(ctx, req.Tenant, req.JobID, log)
}

// runTask exports a task's types in one pass, records each finished, and
// completes the job if they were the last.
func (x *Exporter) runTask(ctx context.Context, ev events.Event, types []string, st *jobState, log zerolog.Logger) error {
	if st.started == nil {
		return errors.New("task before the job's snapshot was recorded")
	}
	var todo []string
	for _, typ := range types {
		if !st.finished[typ] && !slices.Contains(todo, typ) {
			todo = append(todo, typ)
		}
	}
	if err := x.exportTypes(ctx, ev.Tenant, ev.JobID, st, todo); err != nil {
		return fmt.Errorf("export %s: %w", strings.Join(todo, ","), err)
	}
	for _, typ := range todo {
		done := &events.ExportTaskFinished{ResourceType: typ, WorkerID: x.cfg.WorkerID}
		// The pass's writers have all returned: chunks is no longer written.
		for _, c := range st.chunks[typ] {
			done.Parts++
			done.Resources += c.Resources
			done.Bytes += c.Bytes
		}
		if err := x.publish(ctx, ev.Tenant, ev.JobID, done, typ); err != nil {
			return err
		}
		log.Debug().Str("resource_type", typ).Int("parts", done.Parts).Int64("resources", done.Resources).Msg("type finished")
	}
	return x.maybeComplete(ctx, ev.Tenant, ev.JobID, log)
}

// maybeComplete publishes the manifest once every type is finished, and
// until then queues the job's next tasks (topUp). Every task checks after
// recording its own end, so the last one to finish sees all the others;
// two seeing it at once publish one event (same Msg-Id).
func (x *Exporter) maybeComplete(ctx context.Context, t events.Tenant, jobID string, log zerolog.Logger) error {
	st, err := x.jobState(ctx, t, jobID)
	if err != nil {
		return err
	}
	if st.terminal() || st.req == nil || st.started == nil {
		return nil
	}
	types := jobTypes(st.req)
	for _, typ := range types {
		if !st.finished[typ] {
			return x.topUp(ctx, t, jobID, st)
		}
	}
	x.cfg.Pause("before-complete")
	done := &events.ExportCompleted{TransactionTime: st.started.TransactionTime}
	for _, typ := range types {
		for _, c := range st.chunks[typ] {
			done.Files = append(done.Files, events.File{ResourceType: typ, Part: c.Part, Object: c.Object,
				Count: c.Resources, Bytes: c.Bytes, SHA256: c.SHA256})
			done.Resources += c.Resources
			done.Bytes += c.Bytes
		}
	}
	if err := x.publish(ctx, t, jobID, done, ""); err != nil {
		return err
	}
	log.Info().Int64("resources", done.Resources).Int64("bytes", done.Bytes).Int("files", len(done.Files)).Msg("export completed")
	return nil
}

// jobTypes returns the types a job exports: at patient and group level,
// only those in the Patient compartment.
func jobTypes(req *events.ExportRequested) []string {
	if req.Level != events.LevelPatient && req.Level != events.LevelGroup {
		return req.ResourceTypes
	}
	sel, _, err := fhir.NewSelection(fhir.SelectionSpec{Level: string(req.Level)})
	if err != nil {
		return req.ResourceTypes
	}
	return sel.Types(req.ResourceTypes)
}

// selection builds what a job keeps of each record. A Group's members are
// read as of the job's snapshot, so every task of the job sees the same.
func (x *Exporter) selection(ctx context.Context, t events.Tenant, st *jobState) (*fhir.Selection, error) {
	r := st.req
	spec := fhir.SelectionSpec{Level: string(r.Level), Patients: r.Patients, TypeFilters: r.TypeFilters,
		Elements: r.Elements, Lenient: r.Lenient}
	if spec.Level == "" {
		spec.Level = string(events.LevelSystem)
	}
	if r.Level == events.LevelGroup {
		group, err := fhirstore.GetAsOf(ctx, x.js, t, "Group", r.GroupID, st.started.SnapshotSeq)
		if errors.Is(err, fhirstore.ErrNotFound) || errors.Is(err, fhirstore.ErrDeleted) {
			return nil, &permanentError{code: "group_not_found",
				err: fmt.Errorf("Group/%s does not exist as of the export's start", r.GroupID)}
		}
		if err != nil {
			return nil, err
		}
		if spec.Patients, err = fhirstore.GroupMembers(group); err != nil {
			return nil, &permanentError{code: "group_invalid", err: fmt.Errorf("Group/%s: %w", r.GroupID, err)}
		}
		if len(spec.Patients) == 0 {
			// A Group without members exports nothing, not everyone.
			spec.Patients = []string{""}
		}
	}
	sel, _, err := fhir.NewSelection(spec)
	if err != nil {
		return nil, &permanentError{code: "invalid_request", err: err}
	}
	return sel, nil
}

func (x *Exporter) publish(ctx context.Context, t events.Tenant, jobID string, p events.Payload, part string) error {
	id := events.MsgID(jobID, p.Kind(), part)
	_, err := broker.Publish(ctx, x.js, events.New(id, x.now(), t, jobID, p), id)
	return err
}

// watchEnd returns a context that ends as soon as the job is cancelled
// (cause errCancelled) or fails in another task (cause errJobEnded).
func (x *Exporter) watchEnd(ctx context.Context, t events.Tenant, jobID string) (context.Context, func(), error) {
	ctx, cancel := context.WithCancelCause(ctx)
	nc := x.js.Conn()
	var subs []*nats.Subscription
	stop := func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
		cancel(nil)
	}
	for kind, cause := range map[events.Kind]error{events.KindCancel: errCancelled, events.KindFailed: errJobEnded} {
		sub, err := nc.Subscribe(events.Subject(t, jobID, kind), func(*nats.Msg) { cancel(cause) })
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("watch job: %w", err)
		}
		subs = append(subs, sub)
	}
	// An end published between reading the log and subscribing.
	if _, err := broker.LastEvent(ctx, x.a.Stream, t, jobID, events.KindCancel); err == nil {
		cancel(errCancelled)
	} else if _, err := broker.LastEvent(ctx, x.a.Stream, t, jobID, events.KindFailed); err == nil {
		cancel(errJobEnded)
	}
	return ctx, stop, nil
}

// cleanupCancelled removes a cancelled job's stored parts and records it.
func (x *Exporter) cleanupCancelled(ctx context.Context, t events.Tenant, jobID string) error {
	n, err := x.removeObjects(ctx, t, jobID)
	if err != nil {
		return err
	}
	by := ""
	if ev, err := broker.LastEvent(ctx, x.a.Stream, t, jobID, events.KindCancel); err == nil {
		by = ev.Data.(*events.ExportCancelRequested).By
	}
	id := events.MsgID(jobID, events.KindCancelled, "")
	_, err = broker.Publish(ctx, x.js, events.New(id, x.now(), t, jobID,
		&events.ExportCancelled{By: by, PartsRemoved: n}), id)
	return err
}

// removeObjects deletes every object of a job and returns how many.
func (x *Exporter) removeObjects(ctx context.Context, t events.Tenant, jobID string) (int, error) {
	infos, err := x.a.Exports.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("list parts: %w", err)
	}
	prefix, n := events.ObjectPrefix(t, jobID), 0
	for _, info := range infos {
		if !strings.HasPrefix(info.Name, prefix) {
			continue
		}
		if err := x.a.Exports.Delete(ctx, info.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return n, fmt.Errorf("delete %s: %w", info.Name, err)
		}
		n++
	}
	return n, nil
}
