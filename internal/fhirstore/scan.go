package fhirstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
)

// fhirStream is the stream behind the fhir bucket.
const fhirStream = "KV_" + events.BucketFHIR

// kvOperation is the header a KV delete or purge marker carries.
const kvOperation = "KV-Operation"

// multiLastLimit is how many subjects the server answers in one batched
// direct get (its maxAllowedResponses).
const multiLastLimit = 1024

// createTimeout bounds the creation of a consumer that delivers the last
// message per key. The server lists the keys' last sequences first, which
// takes about 2 s per million keys on 2 cores: with the client's default
// 5 s, a tenant with 3,000,000 records could not be scanned at all.
const createTimeout = 5 * time.Minute

// Record is one record as of an export's snapshot: the value of a record
// of resource type Type stored at stream sequence Seq at Time.
type Record struct {
	Seq  uint64
	Time time.Time
	Type string
	Data []byte
}

// ScanSpec says which records a [Scan] returns.
type ScanSpec struct {
	Tenant events.Tenant
	// Types are the resource types read, all in one pass over the records
	// stream: a pass costs about the same for one sparse type as for many,
	// because the server loads every block that holds any of them.
	Types []string
	// UpTo is the snapshot bound: the last sequence of the records stream
	// when the export began (see [SnapshotSeq]). Each record is returned in
	// its version as of UpTo; records created after it are left out.
	UpTo uint64
	// After resumes a scan, type by type: records of a type whose snapshot
	// version is at or below After[type] were returned by an earlier
	// attempt and are skipped.
	After map[string]uint64
	// Since and Until filter on the time the version was written.
	Since, Until *time.Time
	// Progress, if set, counts every record the scan reads, including those
	// skipped by After, Since and Until: a watchdog's sign of life through
	// long stretches that return nothing.
	Progress *atomic.Int64
}

// SnapshotSeq returns the current last sequence of the records stream: the
// bound of an export that starts now.
func SnapshotSeq(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	s, err := js.Stream(ctx, fhirStream)
	if err != nil {
		return 0, fmt.Errorf("snapshot: %w", err)
	}
	return s.CachedInfo().State.LastSeq, nil
}

// Scan reads every live record of some types of one tenant as of a
// snapshot, in ascending order of the sequence of that version, so that
// every scan of the same spec returns the same records in the same order and
// a resumed scan continues exactly after each type's cursor. It holds at most
// one pull batch of records plus those changed since the snapshot began,
// never a whole type.
//
// The bulk of the records come from a consumer delivering the last message
// per key, which the server sorts by sequence; those updated after the bound
// are read instead in their version as of the bound, with a batched direct
// get (multi_last, up_to_seq), and merged in. That works while the bucket
// keeps the snapshot's version, that is while a record is updated fewer times
// than the bucket's history during one export.
//
// A Scan is not safe for concurrent use, except [Scan.Scanned].
type Scan struct {
	spec      ScanSpec
	js        jetstream.JetStream
	name      string // the consumer, deleted on Close
	what      string // the types, for errors
	prefix    string // of the subjects, before the type
	cons      jetstream.MessagesContext
	unwatch   func() bool
	filters   []string
	types     map[string]string        // the spec's types, by themselves
	scanned   map[string]*atomic.Int64 // by type
	done      bool                     // main consumer exhausted
	head      *Record
	tail      []Record
	last      uint64 // sequence of the last record taken, returned or skipped
	reopens   int
	recreated string // the consumer that replaced name, to delete
}

// errRecreated says the scan's ordered consumer was recreated by the
// client, after its server failed over or it lost messages.
var errRecreated = errors.New("its consumer was recreated after a server failover or lost messages")

// maxReopens bounds how many times one scan reopens itself after its
// consumer was recreated, before it fails (and its task is retried).
const maxReopens = 3

// OpenScan starts a scan. Close it when done.
func OpenScan(ctx context.Context, js jetstream.JetStream, spec ScanSpec) (*Scan, error) {
	if len(spec.Types) == 0 {
		return nil, fmt.Errorf("scan: no resource type")
	}
	s := &Scan{spec: spec, js: js, what: strings.Join(spec.Types, ","),
		prefix: "$KV." + events.BucketFHIR + "." + string(spec.Tenant) + ".",
		types:  map[string]string{}, scanned: map[string]*atomic.Int64{}}
	s.filters = make([]string, len(spec.Types))
	for i, typ := range spec.Types {
		s.filters[i] = s.prefix + typ + ".>"
		s.types[typ] = typ
		s.scanned[typ] = new(atomic.Int64)
	}
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// open creates the scan's consumer and reads the keys changed after the
// bound; what the spec's After says was returned before is skipped.
func (s *Scan) open(ctx context.Context) error {
	js := s.js
	cctx, cancel := context.WithTimeout(ctx, createTimeout)
	defer cancel()
	c, err := js.OrderedConsumer(cctx, fhirStream, jetstream.OrderedConsumerConfig{
		FilterSubjects:    s.filters,
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		InactiveThreshold: 30 * time.Second,
		// Give up on a consumer that cannot be recreated (its server is
		// gone and no other takes it) instead of waiting forever.
		MaxResetAttempts: 5,
	})
	if err != nil {
		return fmt.Errorf("scan %s: %w", s.what, err)
	}
	info, err := c.Info(cctx)
	if err != nil {
		return fmt.Errorf("scan %s: %w", s.what, err)
	}
	s.name = info.Name
	// The records stream's state, read once, after the consumer fixed its
	// set of last messages: it says whether keys changed after the bound
	// and how large records are on average.
	str, err := js.Stream(ctx, fhirStream)
	if err != nil {
		deleteConsumer(js, info.Name)
		return fmt.Errorf("scan %s: %w", s.what, err)
	}
	state := str.CachedInfo().State
	// Keys written after the bound, found now that the consumer has fixed
	// its set of last messages: anything written later than this is
	// delivered by the consumer in its snapshot version if kept.
	if s.tail, err = s.changedSince(ctx, state.LastSeq); err != nil {
		deleteConsumer(js, info.Name)
		return err
	}
	if info.NumPending == 0 {
		s.done = true
		return nil
	}
	// Count-limited pulls only: with a byte limit (PullMaxMessagesWithBytesLimit)
	// a type of large records (ExplanationOfBenefit) ended its pulls on
	// bytes and the iterator never fetched the type's last message. The
	// count keeps about 4 MiB in flight at the stream's average record
	// size: a deep pipeline for small records, bounded memory for large.
	s.cons, err = c.Messages(jetstream.PullMaxMessages(pullBatch(state)))
	if err != nil {
		deleteConsumer(js, info.Name)
		return fmt.Errorf("scan %s: %w", s.what, err)
	}
	// A cancelled export must not wait in Next for a message that will not
	// come: stopping the iterator ends Next. (Next's own context option
	// costs a timer per message, a third of the scan's speed.)
	s.unwatch = context.AfterFunc(ctx, s.cons.Stop)
	return nil
}

// reopen starts the scan again after its consumer was recreated, which
// delivers every version after its position instead of the last per key:
// a new consumer and a new read of the changes, skipping every record up
// to the last one taken. The records come in sequence order, so the
// reopened scan goes on exactly where this one stopped.
func (s *Scan) reopen(ctx context.Context) error {
	s.release()
	s.recreated = ""
	after := make(map[string]uint64, len(s.spec.Types))
	for _, typ := range s.spec.Types {
		after[typ] = max(s.spec.After[typ], s.last)
	}
	s.spec.After = after
	s.cons, s.unwatch, s.done, s.head, s.tail = nil, nil, false, nil, nil
	return s.open(ctx)
}

// pullBatch returns how many records a scan keeps in flight: about 4 MiB
// at the records stream's average message size, from 64 to 1,000.
func pullBatch(st jetstream.StreamState) int {
	const inFlight, lo, hi = 4 << 20, 64, 1000
	if st.Msgs == 0 {
		return hi
	}
	return int(min(max(inFlight/max(st.Bytes/st.Msgs, 1), lo), hi))
}

// Scanned returns how many records of a type the scan has read so far,
// returned or filtered out by Since and Until. It may be called from any
// goroutine.
func (s *Scan) Scanned(typ string) int64 {
	if n, ok := s.scanned[typ]; ok {
		return n.Load()
	}
	return 0
}

// typeOf returns the resource type of a record's subject, as the string the
// spec holds (no allocation per record), or "" if it is none of them.
func (s *Scan) typeOf(subject string) string {
	rest, ok := strings.CutPrefix(subject, s.prefix)
	if !ok {
		return ""
	}
	typ, _, _ := strings.Cut(rest, ".")
	return s.types[typ]
}

// Next returns the next record, or io.EOF after the last.
func (s *Scan) Next(ctx context.Context) (Record, error) {
	for {
		if s.head == nil && !s.done {
			r, err := s.nextMain(ctx)
			if errors.Is(err, errRecreated) && s.reopens < maxReopens && ctx.Err() == nil {
				s.reopens++
				if err := s.reopen(ctx); err != nil {
					return Record{}, err
				}
				continue
			}
			if err != nil {
				return Record{}, err
			}
			s.head = r
		}
		if s.head != nil && len(s.tail) > 0 && s.head.Seq == s.tail[0].Seq {
			// Changed after the consumer fixed its set: the consumer still
			// delivered the snapshot version, which the tail holds too.
			s.tail = s.tail[1:]
		}
		var r Record
		switch {
		case s.head != nil && (len(s.tail) == 0 || s.head.Seq < s.tail[0].Seq):
			r, s.head = *s.head, nil
		case len(s.tail) > 0:
			r, s.tail = s.tail[0], s.tail[1:]
		default:
			return Record{}, io.EOF
		}
		s.last = r.Seq
		if s.spec.Progress != nil {
			s.spec.Progress.Add(1)
		}
		if r.Seq <= s.spec.After[r.Type] {
			continue
		}
		s.scanned[r.Type].Add(1)
		if s.spec.Since != nil && r.Time.Before(*s.spec.Since) {
			continue
		}
		if s.spec.Until != nil && r.Time.After(*s.spec.Until) {
			continue
		}
		return r, nil
	}
}

// nextMain returns the next live record from the consumer whose version is
// within the snapshot, or nil when there is none left.
func (s *Scan) nextMain(ctx context.Context) (*Record, error) {
	for !s.done {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		msg, err := s.cons.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("scan %s: %w", s.what, ctx.Err())
			}
			return nil, fmt.Errorf("scan %s: %w", s.what, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", s.what, err)
		}
		if md.Consumer != s.name {
			// The ordered consumer was recreated (its server failed over,
			// or messages were lost). A recreated one delivers every
			// version after its position, not the last per key: Next
			// reopens the scan instead, a few times, and then fails (the
			// task is retried and resumes after its last parts).
			s.stop()
			s.recreated = md.Consumer
			return nil, fmt.Errorf("scan %s: %w", s.what, errRecreated)
		}
		// The consumer's last-per-subject set is sorted by sequence: the
		// first message past the bound ends the snapshot, and everything
		// after it is either in the tail or newer than the export.
		if md.Sequence.Stream > s.spec.UpTo {
			s.stop()
			return nil, nil
		}
		if md.NumPending == 0 {
			s.stop()
		}
		if op := msg.Headers().Get(kvOperation); op != "" {
			continue // a delete or purge marker
		}
		typ := s.typeOf(msg.Subject())
		if typ == "" {
			s.stop()
			return nil, fmt.Errorf("scan %s: the consumer delivered %s, outside its filter", s.what, msg.Subject())
		}
		return &Record{Seq: md.Sequence.Stream, Time: md.Timestamp, Type: typ, Data: msg.Data()}, nil
	}
	return nil, nil
}

func (s *Scan) stop() {
	s.done = true
	if s.cons != nil {
		s.cons.Stop()
	}
}

// Close releases the scan's consumer.
func (s *Scan) Close() { s.release() }

func (s *Scan) release() {
	if s.unwatch != nil {
		s.unwatch()
	}
	s.stop()
	deleteConsumer(s.js, s.name)
	if s.recreated != "" {
		deleteConsumer(s.js, s.recreated)
	}
}

// deleteConsumer removes an ordered consumer now rather than when its
// inactivity threshold passes, so the server drops its state at once.
func deleteConsumer(js jetstream.JetStream, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = js.DeleteConsumer(ctx, fhirStream, name)
}

// CountKeys returns how many keys of one type a tenant has, live or
// deleted: what a progress percent divides by before the scans open.
func CountKeys(ctx context.Context, js jetstream.JetStream, t events.Tenant, typ string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, createTimeout)
	defer cancel()
	c, err := js.OrderedConsumer(ctx, fhirStream, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{"$KV." + events.BucketFHIR + "." + events.RecordKey(t, typ, ">")},
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		HeadersOnly:       true,
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", typ, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", typ, err)
	}
	deleteConsumer(js, info.Name)
	return int64(info.NumPending), nil
}

// changedSince returns, sorted by sequence, the snapshot versions of the
// keys of the scan's types written after the spec's UpTo, leaving out keys
// that were deleted or absent at the snapshot. lastSeq is the stream's last
// sequence.
func (s *Scan) changedSince(ctx context.Context, lastSeq uint64) ([]Record, error) {
	if lastSeq <= s.spec.UpTo {
		return nil, nil
	}
	// Direct gets, not a consumer: a consumer created per read may not
	// answer yet on a clustered stream. One read of the tenant's changes,
	// keeping the scan's types, rather than one per type.
	seen := map[string]bool{}
	var subjects []string
	err := broker.ReadSubjectFrom(ctx, s.js, fhirStream, s.prefix+">", s.spec.UpTo+1, func(msg *nats.Msg, _ uint64) error {
		if subj := broker.StoredSubject(msg); !seen[subj] && s.typeOf(subj) != "" {
			seen[subj] = true
			subjects = append(subjects, subj)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s changes: %w", s.what, err)
	}
	var out []Record
	for chunk := range slices.Chunk(subjects, multiLastLimit) {
		recs, err := lastAsOf(ctx, s.js, chunk, s.spec.UpTo, s.typeOf)
		if err != nil {
			return nil, fmt.Errorf("scan %s snapshot versions: %w", s.what, err)
		}
		out = append(out, recs...)
	}
	slices.SortFunc(out, func(a, b Record) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}
