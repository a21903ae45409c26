package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
)

// ErrNotFound is returned when a job has no event of the kind asked for.
var ErrNotFound = errors.New("not found")

// Publish stores ev in the log under its subject with the de-duplication id
// msgID and waits for the stream's acknowledgement. It returns the event's
// stream sequence; a duplicate (an event already stored under msgID) returns
// the sequence of the original and no error.
func Publish(ctx context.Context, js jetstream.JetStream, ev events.Event, msgID string) (uint64, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	msg := nats.NewMsg(ev.Subject())
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	ack, err := js.PublishMsg(ctx, msg, jetstream.WithExpectStream(events.StreamBulk))
	if err != nil {
		return 0, fmt.Errorf("publish %s: %w", ev.Type, err)
	}
	return ack.Sequence, nil
}

// DecodeMsg decodes a consumed event and stamps it with its stream
// sequence. An event whose envelope names another tenant, job or kind than
// its subject is invalid: consumers route by subject and fold by envelope.
func DecodeMsg(msg jetstream.Msg) (events.Event, error) {
	ev, err := events.Decode(msg.Data())
	if err != nil {
		return events.Event{}, err
	}
	if ev.Subject() != msg.Subject() {
		return events.Event{}, fmt.Errorf("%w: a %s of %s/%s published on %s", events.ErrInvalid, ev.Type, ev.Tenant, ev.JobID, msg.Subject())
	}
	if md, err := msg.Metadata(); err == nil {
		ev.Seq = md.Sequence.Stream
	}
	return ev, nil
}

// LastEvent returns the last event stored on one job's subject of kind k,
// read directly from the stream (no consumer, no projection), or ErrNotFound.
func LastEvent(ctx context.Context, s jetstream.Stream, t events.Tenant, jobID string, k events.Kind) (events.Event, error) {
	raw, err := s.GetLastMsgForSubject(ctx, events.Subject(t, jobID, k))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return events.Event{}, ErrNotFound
	}
	if err != nil {
		return events.Event{}, fmt.Errorf("get last %s of %s: %w", k, jobID, err)
	}
	ev, err := events.Decode(raw.Data)
	if err != nil {
		return events.Event{}, err
	}
	ev.Seq = raw.Sequence
	return ev, nil
}

// JobEvents returns every event of one job in stream order, read from the
// log with batched direct gets. It is how a worker learns what an earlier
// attempt of the job, or another task, already did. The read holds at
// least every event acknowledged before the call, even when a follower
// behind the leader answers (see leader.go): it asks again until it has
// the job's last event as the leader has it.
func JobEvents(ctx context.Context, js jetstream.JetStream, t events.Tenant, jobID string) ([]events.Event, error) {
	subject := events.JobSubjects(t, jobID)
	want, err := LeaderLastSeq(ctx, js, events.StreamBulk, subject)
	if err != nil {
		return nil, fmt.Errorf("read events of %s: %w", jobID, err)
	}
	deadline := time.Now().Add(staleReadWait)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		var out []events.Event
		var last uint64
		err := ReadSubject(ctx, js, events.StreamBulk, subject, func(msg *nats.Msg, seq uint64) error {
			last = seq
			ev, err := events.Decode(msg.Data)
			if err != nil {
				return nil // a malformed event is the projector's to report
			}
			ev.Seq = seq
			out = append(out, ev)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read events of %s: %w", jobID, err)
		}
		if last >= want {
			return out, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("read events of %s: the replica that answers has the log up to %d, its leader up to %d", jobID, last, want)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("read events of %s: %w", jobID, ctx.Err())
		case <-time.After(wait):
		}
	}
}
