package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/fhir"
	"github.com/jetexport/jetexport/internal/fhirstore"
	"github.com/jetexport/jetexport/internal/ndjson"
)

// A task exports its types in one pass over the records stream: one scan
// with a filter per type, whose records the pass routes to a lane per
// type. Each lane has its own writer, which cuts the lane into parts and
// stores them one after the other, as a task of one type did; the lanes'
// parts are written at the same time. Per-type cursors keep resume exact:
// a part's ChunkWritten records the sequence of its type's last line, and a
// resumed pass skips, type by type, what is at or below it.
//
// Why one pass and not a scan per type: the records of one patient are
// stored together, so the records of a sparse type are spread over the
// whole stream, and each scan makes the server load nearly every block.
// Nine types were nine passes; see BENCHMARKS.md.

// laneDepth is how many records a lane holds ahead of its writer: enough
// to keep the scan going while a writer waits for a chunk's ack.
const laneDepth = 256

// maxTaskTypes bounds the types of one task, and so the parts it has open
// at once (each holds a chunk buffer while its object is written).
const maxTaskTypes = 32

// lane carries one type's records from the pass to its writer.
type lane struct {
	typ  string
	ch   chan ndjson.Line
	sel  *fhir.Selection // nil: every record as stored
	idle time.Duration   // a part waiting this long for a record ends
	tm   *time.Timer
}

// Next implements ndjson.Source: the lane's next record, with the job's
// selection applied. A lane that stays empty for idle ends the part being
// written (ndjson.ErrEndPart), so no object is held open, its chunks
// unreferenced, long enough for the orphan chunk sweep to take them.
func (l *lane) Next(ctx context.Context) (ndjson.Line, error) {
	for {
		line, err := l.receive(ctx)
		if err != nil || l.sel == nil {
			return line, err
		}
		out, keep, err := l.sel.Apply(l.typ, line.Data)
		if err != nil {
			return ndjson.Line{}, &permanentError{code: "unreadable_record",
				err: fmt.Errorf("a stored %s at sequence %d is not a FHIR resource: %w", l.typ, line.Cursor, err)}
		}
		if keep {
			return ndjson.Line{Data: out, Cursor: line.Cursor}, nil
		}
	}
}

func (l *lane) receive(ctx context.Context) (ndjson.Line, error) {
	select {
	case line, ok := <-l.ch:
		return l.got(line, ok)
	default:
	}
	// Empty: wait, with a timer only now (one per record would cost a
	// good part of the pass).
	if l.tm == nil {
		l.tm = time.NewTimer(l.idle)
	} else {
		l.tm.Reset(l.idle)
	}
	defer l.tm.Stop()
	select {
	case line, ok := <-l.ch:
		return l.got(line, ok)
	case <-ctx.Done():
		return ndjson.Line{}, context.Cause(ctx)
	case <-l.tm.C:
		return ndjson.Line{}, ndjson.ErrEndPart
	}
}

func (l *lane) got(line ndjson.Line, ok bool) (ndjson.Line, error) {
	if !ok {
		return ndjson.Line{}, io.EOF
	}
	return line, nil
}

// exportTypes writes the parts of a task's types, after those earlier
// attempts stored, in one pass over the records.
func (x *Exporter) exportTypes(ctx context.Context, t events.Tenant, jobID string, st *jobState, types []string) error {
	var todo []string
	after := map[string]uint64{}
	for _, typ := range types {
		if _, cursor, done := st.resume(typ); !done {
			todo = append(todo, typ)
			after[typ] = cursor
		}
	}
	if len(todo) == 0 {
		return nil
	}
	r := st.req
	sel, err := x.selection(ctx, t, st)
	if err != nil {
		return err
	}
	scan, err := fhirstore.OpenScan(ctx, x.js, fhirstore.ScanSpec{Tenant: t, Types: todo,
		UpTo: st.started.SnapshotSeq, After: after, Since: r.Since, Until: r.Until})
	if err != nil {
		return err
	}
	defer scan.Close()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lanes := make(map[string]*lane, len(todo))
	var wg sync.WaitGroup
	for _, typ := range todo {
		l := &lane{typ: typ, ch: make(chan ndjson.Line, laneDepth), idle: max(x.cfg.StuckAfter/2, time.Second)}
		if !sel.Trivial(typ) {
			l.sel = sel
		}
		lanes[typ] = l
		wg.Go(func() {
			if err := x.writeParts(ctx, t, jobID, st, typ, l, scan); err != nil {
				cancel(err)
			}
		})
	}
	err = x.route(ctx, scan, lanes, &st.progress)
	if err != nil {
		cancel(err)
	}
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil {
		return cause // the first failure, of the pass or of a writer
	}
	return nil
}

// route reads the pass and hands each record to its type's lane; at the
// end it closes every lane, which ends each type's last part.
func (x *Exporter) route(ctx context.Context, scan *fhirstore.Scan, lanes map[string]*lane, progress *atomic.Int64) error {
	for {
		rec, err := scan.Next(ctx)
		if errors.Is(err, io.EOF) {
			for _, l := range lanes {
				close(l.ch)
			}
			return nil
		}
		if err != nil {
			return err
		}
		progress.Add(1)
		x.cfg.Pause("record")
		select {
		case lanes[rec.Type].ch <- ndjson.Line{Data: rec.Data, Cursor: rec.Seq}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// writeParts stores one type's parts from its lane, numbered after those an
// earlier attempt stored, each recorded before the next is written.
func (x *Exporter) writeParts(ctx context.Context, t events.Tenant, jobID string, st *jobState, typ string, l *lane, scan *fhirstore.Scan) error {
	lastPart, _, _ := st.resume(typ)
	split := ndjson.NewSplitter(l, ndjson.Limits{MaxLines: x.cfg.PartMaxResources, MaxBytes: x.cfg.PartMaxBytes})
	for n := lastPart + 1; ; n++ {
		more, err := split.More(ctx)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		part := split.Next(ctx)
		name := events.ObjectName(t, jobID, typ, n)
		// Put gets a context that outlives a cancellation: the part's reader
		// ends the part with the cancellation instead, and Put then removes
		// the chunks it stored (with a cancelled context it could not). No
		// deadline: without one, Put bounds each chunk's acknowledgement by
		// the client's default timeout, so an ack lost when a cluster node
		// dies fails the part in seconds (and the task is retried), where a
		// deadline on the whole part would hold it until the deadline.
		info, err := x.a.Exports.Put(context.WithoutCancel(ctx), jetstream.ObjectMeta{Name: name,
			Headers: nats.Header{"Content-Type": []string{"application/fhir+ndjson"}},
			Opts:    &jetstream.ObjectMetaOptions{ChunkSize: partChunk}}, part)
		if err != nil {
			return fmt.Errorf("%s: store part %d: %w", typ, n, err)
		}
		x.cfg.Pause("part-stored")
		last, err := split.More(ctx)
		if err != nil {
			return err
		}
		c := events.ChunkWritten{ResourceType: typ, Part: n, Object: name, Resources: int64(part.Lines()),
			Bytes: part.Bytes(), SHA256: digestHex(info.Digest), Cursor: part.Cursor(),
			Scanned: scan.Scanned(typ), Last: !last}
		if err := x.publish(ctx, t, jobID, &c, typ+"."+strconv.Itoa(n)); err != nil {
			return err
		}
		x.cfg.Pause("part-recorded")
		st.record(c)
	}
}

// partChunk is the object store chunk of a part: larger than the default
// 128 KiB so a part is fewer messages, well under the 1 MiB max payload.
const partChunk = 512 << 10
