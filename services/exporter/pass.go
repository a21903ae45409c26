package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
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
//
// While a part is being stored, its first chunks are in the object store
// but referenced by no object until the part ends, and the orphan chunk
// sweep removes chunk sets that have had no new chunk for --stuck-after.
// A sparse type (or a selective filter) can go that long without filling
// a chunk even though records keep coming, so the lane ends the part
// (ndjson.ErrEndPart) once it has had no new chunk for cut, half of
// --stuck-after: the part is then stored whole, and its next records start
// the next part.
type lane struct {
	typ string
	ch  chan ndjson.Line
	sel *fhir.Selection // nil: every record as stored
	cut time.Duration
	now func() time.Time
	tm  *time.Timer
	// Set by the writer, in its own goroutine, as Next is called: whether a
	// part is being stored, when it must end if no chunk comes first, and
	// whether the last part ended that way.
	open  bool
	endAt time.Time
	ended bool
}

func newLane(typ string, sel *fhir.Selection, cut time.Duration) *lane {
	return &lane{typ: typ, ch: make(chan ndjson.Line, laneDepth), sel: sel, cut: cut, now: time.Now}
}

// begin starts a part: the reader to store instead of part, which pushes
// the part's end back each time it hands over a chunk.
func (l *lane) begin(part io.Reader) io.Reader {
	l.open, l.ended, l.endAt = true, false, l.now().Add(l.cut)
	return chunkClock{l: l, r: part}
}

// end says the part's store returned.
func (l *lane) end() { l.open = false }

// chunkClock passes a part's chunks to the object store, timing them.
type chunkClock struct {
	l *lane
	r io.Reader
}

func (c chunkClock) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 {
		c.l.endAt = c.l.now().Add(c.l.cut)
	}
	return n, err
}

// Next implements ndjson.Source: the lane's next record, with the job's
// selection applied, or ndjson.ErrEndPart when the part being stored has
// gone too long without a new chunk.
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
	if l.open && !l.now().Before(l.endAt) {
		return l.endPart()
	}
	select {
	case line, ok := <-l.ch:
		return l.got(line, ok)
	default:
	}
	if !l.open {
		select {
		case line, ok := <-l.ch:
			return l.got(line, ok)
		case <-ctx.Done():
			return ndjson.Line{}, context.Cause(ctx)
		}
	}
	// Empty while a part is open: wait until the part must end, with a
	// timer only now (one per record would cost a good part of the pass).
	wait := l.endAt.Sub(l.now())
	if l.tm == nil {
		l.tm = time.NewTimer(wait)
	} else {
		l.tm.Reset(wait)
	}
	defer l.tm.Stop()
	select {
	case line, ok := <-l.ch:
		return l.got(line, ok)
	case <-ctx.Done():
		return ndjson.Line{}, context.Cause(ctx)
	case <-l.tm.C:
		return l.endPart()
	}
}

func (l *lane) endPart() (ndjson.Line, error) {
	l.open, l.ended = false, true
	return ndjson.Line{}, ndjson.ErrEndPart
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
	after, lastPart := map[string]uint64{}, map[string]int{}
	for _, typ := range types {
		if last, cursor, done := st.resume(typ); !done {
			todo = append(todo, typ)
			after[typ], lastPart[typ] = cursor, last
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
	// One context for the pass and its writers, which a failing writer
	// cancels: the scan then stops too, even waiting for a message.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	scan, err := fhirstore.OpenScan(ctx, x.js, fhirstore.ScanSpec{Tenant: t, Types: todo,
		UpTo: st.started.SnapshotSeq, After: after, Since: r.Since, Until: r.Until, Progress: &st.progress})
	if err != nil {
		return err
	}
	defer scan.Close()

	lanes := make(map[string]*lane, len(todo))
	var wg sync.WaitGroup
	for _, typ := range todo {
		var ls *fhir.Selection
		if !sel.Trivial(typ) {
			ls = sel
		}
		l := newLane(typ, ls, max(x.cfg.StuckAfter/2, time.Second))
		lanes[typ] = l
		wg.Go(func() {
			if err := x.writeParts(ctx, t, jobID, st, l, lastPart[typ], scan); err != nil {
				cancel(err)
			}
		})
	}
	err = x.route(ctx, scan, lanes)
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
func (x *Exporter) route(ctx context.Context, scan *fhirstore.Scan, lanes map[string]*lane) error {
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
		x.cfg.Pause("record")
		select {
		case lanes[rec.Type].ch <- ndjson.Line{Data: rec.Data, Cursor: rec.Seq}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// writeParts stores one type's parts from its lane, numbered after
// lastPart, the last an earlier attempt stored, each recorded before the
// next is written.
func (x *Exporter) writeParts(ctx context.Context, t events.Tenant, jobID string, st *jobState, l *lane, lastPart int, scan *fhirstore.Scan) error {
	typ := l.typ
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
			Opts:    &jetstream.ObjectMetaOptions{ChunkSize: partChunk}}, l.begin(part))
		l.end()
		if err != nil {
			return fmt.Errorf("%s: store part %d: %w", typ, n, err)
		}
		x.cfg.Pause("part-stored")
		// Whether this part is the type's last, known by reading ahead;
		// except for a part ended early by its lane, which is recorded at
		// once (not last: an attempt resumed after it finds nothing more).
		next := true
		if !l.ended {
			if next, err = split.More(ctx); err != nil {
				return err
			}
		}
		c := events.ChunkWritten{ResourceType: typ, Part: n, Object: name, Resources: int64(part.Lines()),
			Bytes: part.Bytes(), SHA256: digestHex(info.Digest), Cursor: part.Cursor(),
			Scanned: scan.Scanned(typ), Last: !next}
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
