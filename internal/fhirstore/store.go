package fhirstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/fhir"
)

// Errors callers branch on. Each is wrapped with a message that says what
// to fix, for example "invalid request: Bundle.entry[3]: unknown resource
// type \"Foo\": ..."; [IssueCode] maps them to OperationOutcome issue codes.
var (
	// ErrNotFound: no record has this type and id.
	ErrNotFound = errors.New("not found")
	// ErrDeleted: the record existed and was deleted.
	ErrDeleted = errors.New("deleted")
	// ErrInvalid: the request is not a resource or Bundle the store can
	// take. It also wraps the fhir package's error saying why (errors.Is
	// works with fhir.ErrUnknownType and its siblings).
	ErrInvalid = errors.New("invalid request")
	// ErrTooLarge: a resource is larger than one NATS message can be, or a
	// transaction has more entries than the server applies atomically.
	ErrTooLarge = errors.New("too large")
	// ErrConflict: concurrent writers kept changing the record (or a
	// transaction's records) for every attempt; the client may retry.
	ErrConflict = errors.New("conflict")
)

// VersionHeader is the header of each record's KV message that carries its
// meta.versionId, so the next write learns the version without parsing the
// JSON. A delete marker carries the version the delete made, so a record
// created again continues the count instead of restarting at 1.
const VersionHeader = "Fhir-Version"

// headerRoom is what a record's message may need beyond its value: headers
// (version, expected sequence, batch id) and protocol framing.
const headerRoom = 512

// maxAttempts bounds the retries of one write lost to concurrent writers.
const maxAttempts = 64

// Result is a record as stored: its JSON with the server's meta, and what
// that meta says. Created is true when the write made a record that did not
// exist (or had been deleted): HTTP 201 rather than 200.
type Result struct {
	Body        []byte
	Type, ID    string
	VersionID   string
	LastUpdated time.Time
	Created     bool
}

// Store keeps a tenant's FHIR records in the KV bucket fhir, one key per
// record, <tenant>.<Type>.<id>, each value the resource as compact JSON with
// the server's meta.versionId and meta.lastUpdated. Writes are optimistic:
// each one expects the key's last revision it read, and a write that lost to
// another is retried, so concurrent writers never lose a version.
// A Store is safe for concurrent use.
type Store struct {
	kv     jetstream.KeyValue
	js     jetstream.JetStream
	now    func() time.Time
	stream string // the bucket's stream, KV_<bucket>
	prefix string // the subject prefix of the bucket's keys, $KV.<bucket>.

	mu  sync.Mutex
	str jetstream.Stream // found on first use
}

// New returns a Store on the bucket kv (broker.Assets.FHIR), writing through
// js, stamping records with the time now returns (time.Now when nil).
func New(kv jetstream.KeyValue, js jetstream.JetStream, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{kv: kv, js: js, now: now,
		stream: "KV_" + kv.Bucket(), prefix: "$KV." + kv.Bucket() + "."}
}

// Put stores body as the record typ/id (PUT /fhir/{type}/{id}): an upsert
// that creates version 1 or replaces the record with the next version. The
// body's resourceType must be typ, and its id, if it has one, id.
func (s *Store) Put(ctx context.Context, t events.Tenant, typ, id string, body []byte) (Result, error) {
	if err := checkTarget(t, typ, id); err != nil {
		return Result{}, err
	}
	r, err := parseFor(typ, body)
	if err != nil {
		return Result{}, err
	}
	if r.ID != "" && r.ID != id {
		return Result{}, fmt.Errorf("%w: %w: the body's id is %q but the URL's is %q", ErrInvalid, fhir.ErrMismatch, r.ID, id)
	}
	key := events.RecordKey(t, typ, id)
	for attempt := 1; ; attempt++ {
		st, err := s.state(ctx, key)
		if err != nil {
			return Result{}, err
		}
		res, err := s.write(ctx, key, r, id, st)
		if err == nil || !isConflict(err) {
			return res, err
		}
		if err := backoff(ctx, attempt, typ+"/"+id); err != nil {
			return Result{}, err
		}
	}
}

// Create stores body as a new record of type typ with an id the server
// mints (POST /fhir/{type}); an id in the body is ignored, as FHIR says.
func (s *Store) Create(ctx context.Context, t events.Tenant, typ string, body []byte) (Result, error) {
	if err := checkTarget(t, typ, "new"); err != nil {
		return Result{}, err
	}
	r, err := parseFor(typ, body)
	if err != nil {
		return Result{}, err
	}
	for attempt := 1; ; attempt++ {
		id := fhir.NewID()
		res, err := s.write(ctx, events.RecordKey(t, typ, id), r, id, recordState{})
		if err == nil || !isConflict(err) {
			return res, err
		}
		if err := backoff(ctx, attempt, typ); err != nil {
			return Result{}, err
		}
	}
}

// Get returns the record typ/id, or an error wrapping ErrNotFound, or
// ErrDeleted if it was deleted.
func (s *Store) Get(ctx context.Context, t events.Tenant, typ, id string) (Result, error) {
	if err := checkTarget(t, typ, id); err != nil {
		return Result{}, err
	}
	msg, err := s.last(ctx, events.RecordKey(t, typ, id))
	if err != nil {
		return Result{}, err
	}
	switch {
	case msg == nil:
		return Result{}, fmt.Errorf("%w: %s/%s", ErrNotFound, typ, id)
	case msg.Header.Get(kvOperation) != "":
		return Result{}, fmt.Errorf("%w: %s/%s was deleted", ErrDeleted, typ, id)
	}
	v, at := fhir.Meta(msg.Data)
	if at.IsZero() {
		at = msg.Time
	}
	return Result{Body: msg.Data, Type: typ, ID: id, VersionID: v, LastUpdated: at}, nil
}

// Delete deletes the record typ/id: a delete marker in the bucket, which
// exports skip and Get answers with ErrDeleted. Deleting a record that does
// not exist, or no longer does, is not an error.
func (s *Store) Delete(ctx context.Context, t events.Tenant, typ, id string) error {
	if err := checkTarget(t, typ, id); err != nil {
		return err
	}
	key := events.RecordKey(t, typ, id)
	for attempt := 1; ; attempt++ {
		st, err := s.state(ctx, key)
		if err != nil || !st.live {
			return err
		}
		_, err = s.js.PublishMsg(ctx, s.deleteMsg(key, st.version+1), jetstream.WithExpectLastSequencePerSubject(st.rev))
		if err == nil {
			return nil
		}
		if !isConflict(err) {
			return fmt.Errorf("delete %s/%s: %w", typ, id, err)
		}
		if err := backoff(ctx, attempt, typ+"/"+id); err != nil {
			return err
		}
	}
}

// write stores r as version st.version+1 of key, expecting the key's last
// revision to be st.rev.
func (s *Store) write(ctx context.Context, key string, r fhir.Resource, id string, st recordState) (Result, error) {
	res := s.stamp(r, id, st)
	if err := s.checkSize(len(res.Body), r.Type+"/"+id); err != nil {
		return Result{}, err
	}
	msg := s.putMsg(key, res.Body, st.version+1)
	if _, err := s.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(st.rev)); err != nil {
		return Result{}, fmt.Errorf("write %s/%s: %w", r.Type, id, err)
	}
	return res, nil
}

// stamp returns the next version of a record whose key is in state st.
func (s *Store) stamp(r fhir.Resource, id string, st recordState) Result {
	at := s.now().UTC().Truncate(time.Millisecond)
	v := strconv.Itoa(st.version + 1)
	return Result{Body: r.Stamp(id, v, at), Type: r.Type, ID: id, VersionID: v, LastUpdated: at, Created: !st.live}
}

func (s *Store) putMsg(key string, value []byte, version int) *nats.Msg {
	m := &nats.Msg{Subject: s.prefix + key, Data: value, Header: nats.Header{}}
	m.Header.Set(VersionHeader, strconv.Itoa(version))
	return m
}

func (s *Store) deleteMsg(key string, version int) *nats.Msg {
	m := &nats.Msg{Subject: s.prefix + key, Header: nats.Header{}}
	m.Header.Set(kvOperation, "DEL")
	m.Header.Set(VersionHeader, strconv.Itoa(version))
	return m
}

// checkSize rejects a value that cannot be one message on this connection.
func (s *Store) checkSize(n int, what string) error {
	limit := int(s.js.Conn().MaxPayload()) - headerRoom
	if n > limit {
		return fmt.Errorf("%w: %s is %d bytes as stored; a record can be at most %d bytes (the NATS server's max_payload of %d less %d for headers)",
			ErrTooLarge, what, n, limit, s.js.Conn().MaxPayload(), headerRoom)
	}
	return nil
}

// parseFor parses body as a resource of type typ.
func parseFor(typ string, body []byte) (fhir.Resource, error) {
	r, err := fhir.ParseResource(body)
	if err != nil {
		return fhir.Resource{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if r.Type != typ {
		return fhir.Resource{}, fmt.Errorf("%w: %w: the body's resourceType is %q but the URL's type is %q", ErrInvalid, fhir.ErrMismatch, r.Type, typ)
	}
	return r, nil
}

// checkTarget checks the tenant, type and id that make a record's key.
func checkTarget(t events.Tenant, typ, id string) error {
	if !t.Valid() {
		return fmt.Errorf("fhirstore: tenant %q is not a valid namespace", t)
	}
	if !fhir.IsResourceType(typ) {
		return fmt.Errorf("%w: %w %q: not a FHIR R4 resource type (names are case-sensitive, for example \"Patient\")", ErrInvalid, fhir.ErrUnknownType, typ)
	}
	return checkID(id)
}

// checkID checks that id is a FHIR id the bucket can hold.
func checkID(id string) error {
	if err := storableID(id); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// storableID checks that id is a FHIR id the bucket can hold: a key's
// tokens are separated by dots, so an id cannot begin or end with one or
// hold two in a row.
func storableID(id string) error {
	if !fhir.ValidID(id) {
		return fmt.Errorf("%w %q: an id is 1 to %d characters from A-Z, a-z, 0-9, '-' and '.'", fhir.ErrBadID, id, fhir.MaxIDLength)
	}
	if id[0] == '.' || id[len(id)-1] == '.' || strings.Contains(id, "..") {
		return fmt.Errorf("%w %q: this server cannot store an id that begins or ends with '.' or has \"..\"", fhir.ErrBadID, id)
	}
	return nil
}

// isConflict reports whether a write failed because the key's last revision
// was not the one expected: another writer got there first.
func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
		return true
	}
	return false
}

// backoff waits a little, more after each attempt, before a write is tried
// again; after maxAttempts it gives up with ErrConflict.
func backoff(ctx context.Context, attempt int, what string) error {
	if attempt >= maxAttempts {
		return fmt.Errorf("%w: %s kept changing while it was written (%d attempts); try again", ErrConflict, what, attempt)
	}
	d := time.Duration(rand.Int64N(int64(min(attempt, 20)) * int64(time.Millisecond)))
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// IssueCode returns the OperationOutcome issue code for an error of the
// store: not-found, deleted, too-long, conflict, the fhir package's code for
// ErrInvalid, and exception for anything else (a server-side failure).
func IssueCode(err error) string {
	switch {
	case errors.Is(err, ErrNotFound):
		return fhir.IssueNotFound
	case errors.Is(err, ErrDeleted):
		return fhir.IssueDeleted
	case errors.Is(err, ErrTooLarge):
		return fhir.IssueTooLong
	case errors.Is(err, ErrConflict):
		return fhir.IssueConflict
	case errors.Is(err, ErrInvalid):
		return fhir.IssueCode(err)
	}
	return fhir.IssueException
}
