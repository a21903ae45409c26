package fhirstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/fhir"
)

// statusNoContent answers a DELETE entry.
const statusNoContent = "204 No Content"

// ApplyBundle applies a batch or transaction Bundle (POST /fhir) for tenant
// t and returns the response Bundle (batch-response or
// transaction-response), one entry per request entry in order, each with
// response.status ("201 Created", "200 OK", "204 No Content") and, for a
// write, location "Type/id/_history/v". Ids given in the Bundle are kept and
// urn:uuid: references are rewritten to Type/id (see fhir.ParseBundle).
//
// A transaction is all or nothing: every entry is checked first (the first
// bad one fails it with ErrInvalid naming the entry), then all are written
// in one atomic batch that expects each record's revision as read, so a
// concurrent writer makes it retry rather than lose a version. Entries are
// applied in Bundle order; the same record twice gets two versions, the last
// one wins. A transaction larger than the server's atomic batch limit fails
// with ErrTooLarge naming the limit.
//
// A batch applies each entry on its own: a bad entry gets an error status and
// an OperationOutcome in response.outcome, and the others are still applied.
func (s *Store) ApplyBundle(ctx context.Context, t events.Tenant, body []byte) ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("fhirstore: tenant %q is not a valid namespace", t)
	}
	b, err := fhir.ParseBundle(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	for i := range b.Entries {
		if e := &b.Entries[i]; e.Err == nil {
			if err := storableID(e.ID); err != nil {
				e.Err = &fhir.EntryError{Index: i, Err: err}
			}
		}
	}
	if b.Type == fhir.BundleTransaction {
		return s.transaction(ctx, t, b)
	}
	return s.batch(ctx, t, b)
}

// transaction applies a transaction Bundle all or nothing.
func (s *Store) transaction(ctx context.Context, t events.Tenant, b fhir.Bundle) ([]byte, error) {
	var keys []string
	seen := make(map[string]bool, len(b.Entries))
	for _, e := range b.Entries {
		if e.Err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, e.Err)
		}
		if k := events.RecordKey(t, e.Type, e.ID); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for attempt := 1; ; attempt++ {
		states, err := s.states(ctx, keys)
		if err != nil {
			return nil, fmt.Errorf("transaction: %w", err)
		}
		msgs, resps, err := s.plan(t, b.Entries, states)
		if err != nil {
			return nil, err
		}
		switch len(msgs) {
		case 0:
		case 1:
			// One message is atomic by itself; an atomic batch would cost
			// the server a staging store and an fsync.
			_, err = s.js.PublishMsg(ctx, msgs[0])
		default:
			_, err = jetstreamext.PublishMsgBatch(ctx, s.js, msgs)
		}
		if err == nil {
			return fhir.ResponseBundle(fhir.BundleTransaction, resps), nil
		}
		if tooLarge := batchLimit(err); tooLarge != nil {
			return nil, fmt.Errorf("%w: a transaction of %d entries: %w", ErrTooLarge, len(b.Entries), tooLarge)
		}
		if !retryable(err) {
			return nil, fmt.Errorf("transaction of %d entries: %w", len(b.Entries), err)
		}
		if err := backoff(ctx, attempt, fmt.Sprintf("a record of the transaction (%d entries)", len(b.Entries))); err != nil {
			return nil, err
		}
	}
}

// plan turns a transaction's entries into the messages of one atomic batch
// and the response entries, given the state of each key as read. Only the
// first message on a key carries the expected last sequence: the server
// refuses the check on a subject the batch already wrote.
func (s *Store) plan(t events.Tenant, entries []fhir.Entry, states map[string]recordState) ([]*nats.Msg, []fhir.EntryResponse, error) {
	msgs := make([]*nats.Msg, 0, len(entries))
	resps := make([]fhir.EntryResponse, len(entries))
	running := make(map[string]recordState, len(states))
	written := make(map[string]bool, len(entries))
	for _, e := range entries {
		key := events.RecordKey(t, e.Type, e.ID)
		st, ok := running[key]
		if !ok {
			st = states[key]
		}
		var msg *nats.Msg
		if e.Method == fhir.MethodDelete {
			resps[e.Index] = fhir.EntryResponse{Status: statusNoContent}
			if !st.live {
				running[key] = st
				continue
			}
			msg = s.deleteMsg(key, st.version+1)
			running[key] = recordState{version: st.version + 1}
		} else {
			res := s.stamp(e.Resource, e.ID, st)
			if err := s.checkSize(len(res.Body), fmt.Sprintf("Bundle.entry[%d] (%s)", e.Index, e.Key())); err != nil {
				return nil, nil, err
			}
			msg = s.putMsg(key, res.Body, st.version+1)
			resps[e.Index] = fhir.Written(res.Created, e.Type, e.ID, res.VersionID, res.LastUpdated)
			running[key] = recordState{version: st.version + 1, live: true}
		}
		if !written[key] {
			written[key] = true
			msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(states[key].rev, 10))
		}
		msgs = append(msgs, msg)
	}
	return msgs, resps, nil
}

// batch applies a batch Bundle entry by entry. It is pipelined: the
// revisions of all its records are read with batched gets, then every write
// is published at once, each expecting the revision read; the few that lose
// to a concurrent writer are retried one by one. A record that appears more
// than once is written in a later wave, after the earlier write is stored,
// so entries apply in Bundle order.
func (s *Store) batch(ctx context.Context, t events.Tenant, b fhir.Bundle) ([]byte, error) {
	resps := make([]fhir.EntryResponse, len(b.Entries))
	var waves [][]int // entry indexes, at most one per record in each
	occurrences := make(map[string]int, len(b.Entries))
	for i, e := range b.Entries {
		if e.Err != nil {
			resps[i] = failed("400 Bad Request", fhir.IssueCode(e.Err), e.Err)
			continue
		}
		k := events.RecordKey(t, e.Type, e.ID)
		w := occurrences[k]
		occurrences[k] = w + 1
		if w == len(waves) {
			waves = append(waves, nil)
		}
		waves[w] = append(waves[w], i)
	}
	for _, wave := range waves {
		if err := s.applyWave(ctx, t, b.Entries, wave, resps); err != nil {
			return nil, fmt.Errorf("batch: %w", err)
		}
	}
	return fhir.ResponseBundle(fhir.BundleBatch, resps), nil
}

// applyWave writes entries of a batch that name distinct records.
func (s *Store) applyWave(ctx context.Context, t events.Tenant, entries []fhir.Entry, wave []int, resps []fhir.EntryResponse) error {
	keys := make([]string, len(wave))
	for n, i := range wave {
		keys[n] = events.RecordKey(t, entries[i].Type, entries[i].ID)
	}
	states, err := s.states(ctx, keys)
	if err != nil {
		return err
	}
	type inFlight struct {
		i   int
		ack jetstream.PubAckFuture
		res fhir.EntryResponse
	}
	flying := make([]inFlight, 0, len(wave))
	for n, i := range wave {
		e, st := entries[i], states[keys[n]]
		var msg *nats.Msg
		var res fhir.EntryResponse
		if e.Method == fhir.MethodDelete {
			res = fhir.EntryResponse{Status: statusNoContent}
			if !st.live {
				resps[i] = res
				continue
			}
			msg = s.deleteMsg(keys[n], st.version+1)
		} else {
			rec := s.stamp(e.Resource, e.ID, st)
			if err := s.checkSize(len(rec.Body), e.Key()); err != nil {
				err = &fhir.EntryError{Index: i, Err: err}
				resps[i] = failed("413 Payload Too Large", IssueCode(err), err)
				continue
			}
			msg = s.putMsg(keys[n], rec.Body, st.version+1)
			res = fhir.Written(rec.Created, e.Type, e.ID, rec.VersionID, rec.LastUpdated)
		}
		msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(st.rev, 10))
		ack, err := s.js.PublishMsgAsync(msg)
		if err != nil {
			// Too many publishes in flight on this connection: write this
			// one the slow way.
			resps[i] = s.applyEntry(ctx, t, e)
			continue
		}
		flying = append(flying, inFlight{i: i, ack: ack, res: res})
	}
	for _, f := range flying {
		select {
		case <-f.ack.Ok():
			resps[f.i] = f.res
		case err := <-f.ack.Err():
			if isConflict(err) {
				resps[f.i] = s.applyEntry(ctx, t, entries[f.i])
				continue
			}
			err = &fhir.EntryError{Index: f.i, Err: fmt.Errorf("write %s: %w", entries[f.i].Key(), err)}
			resps[f.i] = failed("500 Internal Server Error", fhir.IssueException, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// applyEntry applies one entry of a batch and says how it went.
func (s *Store) applyEntry(ctx context.Context, t events.Tenant, e fhir.Entry) fhir.EntryResponse {
	if e.Err != nil {
		return failed("400 Bad Request", fhir.IssueCode(e.Err), e.Err)
	}
	var err error
	switch e.Method {
	case fhir.MethodDelete:
		if err = s.Delete(ctx, t, e.Type, e.ID); err == nil {
			return fhir.EntryResponse{Status: statusNoContent}
		}
	default:
		var res Result
		if res, err = s.putResource(ctx, t, e.Resource, e.ID); err == nil {
			return fhir.Written(res.Created, res.Type, res.ID, res.VersionID, res.LastUpdated)
		}
	}
	err = &fhir.EntryError{Index: e.Index, Err: err}
	switch {
	case errors.Is(err, ErrTooLarge):
		return failed("413 Payload Too Large", IssueCode(err), err)
	case errors.Is(err, ErrConflict):
		return failed("409 Conflict", IssueCode(err), err)
	case errors.Is(err, ErrInvalid):
		return failed("400 Bad Request", IssueCode(err), err)
	}
	return failed("500 Internal Server Error", IssueCode(err), err)
}

// putResource upserts an already parsed resource as typ/id.
func (s *Store) putResource(ctx context.Context, t events.Tenant, r fhir.Resource, id string) (Result, error) {
	key := events.RecordKey(t, r.Type, id)
	for attempt := 1; ; attempt++ {
		st, err := s.state(ctx, key)
		if err != nil {
			return Result{}, err
		}
		res, err := s.write(ctx, key, r, id, st)
		if err == nil || !isConflict(err) {
			return res, err
		}
		if err := backoff(ctx, attempt, r.Type+"/"+id); err != nil {
			return Result{}, err
		}
	}
}

// failed is the response of an entry that was not applied.
func failed(status, code string, err error) fhir.EntryResponse {
	return fhir.EntryResponse{Status: status,
		Outcome: fhir.OperationOutcome(fhir.SeverityError, code, err.Error(), fhir.Expression(err)...)}
}

// retryable reports whether an atomic batch failed for a reason that a new
// attempt can overcome: a record changed since it was read, too many
// batches in flight, or a batch the server abandoned.
func retryable(err error) bool {
	if isConflict(err) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jetstreamext.JSErrCodeAtomicPublishTooManyInflight, jetstreamext.JSErrCodeBatchPublishIncomplete:
			return true
		}
	}
	return false
}

// batchLimit returns the error to show when err says the batch was over the
// server's atomic batch size, or nil.
func batchLimit(err error) error {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstreamext.JSErrCodeBatchPublishExceedsLimit {
		return nil
	}
	desc := apiErr.Description
	if i := strings.LastIndexByte(desc, ' '); i >= 0 {
		if n, err := strconv.Atoi(desc[i+1:]); err == nil {
			return fmt.Errorf("the server applies at most %d entries atomically (its max_batch_size); split the transaction or send it as a batch", n)
		}
	}
	return fmt.Errorf("%s; split the transaction or send it as a batch", desc)
}
