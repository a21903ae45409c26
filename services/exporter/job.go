package exporter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/fhirstore"
	"github.com/jetexport/jetexport/internal/ndjson"
)

// errCancelled ends an export whose job was cancelled.
var errCancelled = errors.New("export cancelled")

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
	chunks    map[string][]events.ChunkWritten
	completed bool
	failed    bool
	cancel    *events.ExportCancelRequested
	cancelled bool
	expired   bool
}

func (s *jobState) terminal() bool { return s.completed || s.failed || s.cancelled || s.expired }

// running reports whether a worker has the job in hand.
func (s *jobState) running() bool { return s.started != nil && !s.terminal() && s.cancel == nil }

// record adds a stored part, replacing an earlier record of the same part.
func (s *jobState) record(c events.ChunkWritten) {
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
	st := &jobState{chunks: map[string][]events.ChunkWritten{}}
	for _, ev := range evs {
		switch p := ev.Data.(type) {
		case *events.ExportRequested:
			st.req = p
		case *events.ExportStarted:
			if st.started == nil {
				st.started = p
			}
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

// export runs (or resumes) one job to its end.
func (x *Exporter) export(ctx context.Context, req events.Event, attempt int, log zerolog.Logger) error {
	st, err := x.jobState(ctx, req.Tenant, req.JobID)
	if err != nil {
		return err
	}
	if st.req == nil {
		st.req = req.Data.(*events.ExportRequested)
	}
	if st.terminal() {
		return nil
	}
	if st.cancel != nil {
		return errCancelled
	}
	ctx, stop, err := x.watchCancel(ctx, req.Tenant, req.JobID)
	if err != nil {
		return err
	}
	defer stop()

	started := st.started
	if started == nil {
		bound, err := fhirstore.SnapshotSeq(ctx, x.js)
		if err != nil {
			return err
		}
		started = &events.ExportStarted{TransactionTime: x.now().UTC(), SnapshotSeq: bound, Totals: map[string]int64{}}
		for _, typ := range st.req.ResourceTypes {
			n, err := fhirstore.CountKeys(ctx, x.js, req.Tenant, typ)
			if err != nil {
				return err
			}
			started.Totals[typ] = n
		}
	}
	ev := *started
	ev.WorkerID, ev.Attempt = x.cfg.WorkerID, attempt
	if err := x.publish(ctx, req, &ev, strconv.Itoa(attempt)); err != nil {
		return err
	}
	log.Info().Uint64("snapshot_seq", ev.SnapshotSeq).Msg("export started")

	for _, typ := range st.req.ResourceTypes {
		if err := x.exportType(ctx, req, st, typ, started); err != nil {
			if errors.Is(context.Cause(ctx), errCancelled) {
				return errCancelled
			}
			return fmt.Errorf("export %s: %w", typ, err)
		}
	}
	done := &events.ExportCompleted{TransactionTime: started.TransactionTime}
	for _, typ := range st.req.ResourceTypes {
		for _, c := range st.chunks[typ] {
			done.Files = append(done.Files, events.File{ResourceType: typ, Part: c.Part, Object: c.Object,
				Count: c.Resources, Bytes: c.Bytes, SHA256: c.SHA256})
			done.Resources += c.Resources
			done.Bytes += c.Bytes
		}
	}
	if err := x.publish(ctx, req, done, ""); err != nil {
		return err
	}
	log.Info().Int64("resources", done.Resources).Int64("bytes", done.Bytes).Int("files", len(done.Files)).Msg("export completed")
	return nil
}

// exportType writes the parts of one resource type, after those an earlier
// attempt stored. Each part is recorded before the next is written.
func (x *Exporter) exportType(ctx context.Context, req events.Event, st *jobState, typ string, started *events.ExportStarted) error {
	lastPart, cursor, done := st.resume(typ)
	if done {
		return nil
	}
	r := st.req
	scan, err := fhirstore.OpenScan(ctx, x.js, fhirstore.ScanSpec{Tenant: req.Tenant, Type: typ,
		UpTo: started.SnapshotSeq, After: cursor, Since: r.Since, Until: r.Until})
	if err != nil {
		return err
	}
	defer scan.Close()
	split := ndjson.NewSplitter(scanSource{scan}, ndjson.Limits{MaxLines: x.cfg.PartMaxResources, MaxBytes: x.cfg.PartMaxBytes})
	for n := lastPart + 1; ; n++ {
		more, err := split.More(ctx)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		part := split.Next(ctx)
		name := events.ObjectName(req.Tenant, req.JobID, typ, n)
		info, err := x.a.Exports.Put(ctx, jetstream.ObjectMeta{Name: name,
			Headers: nats.Header{"Content-Type": []string{"application/fhir+ndjson"}}}, part)
		if err != nil {
			return fmt.Errorf("store part %d: %w", n, err)
		}
		last, err := split.More(ctx)
		if err != nil {
			return err
		}
		c := events.ChunkWritten{ResourceType: typ, Part: n, Object: name, Resources: int64(part.Lines()),
			Bytes: part.Bytes(), SHA256: digestHex(info.Digest), Cursor: part.Cursor(),
			Scanned: scan.Scanned(), Last: !last}
		if err := x.publish(ctx, req, &c, typ+"."+strconv.Itoa(n)); err != nil {
			return err
		}
		st.record(c)
	}
}

// scanSource adapts a scan to the splitter's source.
type scanSource struct{ s *fhirstore.Scan }

func (a scanSource) Next(ctx context.Context) (ndjson.Line, error) {
	r, err := a.s.Next(ctx)
	return ndjson.Line{Data: r.Data, Cursor: r.Seq}, err
}

func (x *Exporter) publish(ctx context.Context, req events.Event, p events.Payload, part string) error {
	id := events.MsgID(req.JobID, p.Kind(), part)
	_, err := broker.Publish(ctx, x.js, events.New(id, x.now(), req.Tenant, req.JobID, p), id)
	return err
}

// watchCancel returns a context that ends, with cause errCancelled, as soon
// as a cancel request for the job is published.
func (x *Exporter) watchCancel(ctx context.Context, t events.Tenant, jobID string) (context.Context, func(), error) {
	ctx, cancel := context.WithCancelCause(ctx)
	sub, err := x.js.Conn().Subscribe(events.Subject(t, jobID, events.KindCancel), func(*nats.Msg) {
		cancel(errCancelled)
	})
	if err != nil {
		cancel(nil)
		return nil, nil, fmt.Errorf("watch cancel: %w", err)
	}
	// A cancel published between reading the log and subscribing.
	if _, err := broker.LastEvent(ctx, x.a.Stream, t, jobID, events.KindCancel); err == nil {
		cancel(errCancelled)
	}
	return ctx, func() { _ = sub.Unsubscribe(); cancel(nil) }, nil
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
