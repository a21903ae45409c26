package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// directTimeout bounds one page of a batched direct get, answer and all.
const directTimeout = 30 * time.Second

// StoredSubject is the subject a message read by a direct get was stored
// under (the reply arrives on an inbox).
func StoredSubject(msg *nats.Msg) string { return msg.Header.Get(jetstream.SubjectHeader) }

// DirectPage sends one batched direct get (req is the JSON request: a
// multi_last or a next_by_subj with batch) to stream and hands each message
// to fn with its sequence. It reads to the server's end-of-batch marker and
// returns how many matching messages the server left for a next page and
// the sequence of the last one sent. It never stops short silently: without
// the marker it is an error. Direct gets need no consumer, so they work on
// any replica of a clustered stream, where a consumer created per read may
// not answer yet.
func DirectPage(ctx context.Context, js jetstream.JetStream, stream string, req any, fn func(msg *nats.Msg, seq uint64) error) (pending, last uint64, err error) {
	body, err := json.Marshal(req)
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, directTimeout)
	defer cancel()
	nc := js.Conn()
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return 0, 0, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(apiPrefix(js.Options())+"DIRECT.GET."+stream, inbox, body); err != nil {
		return 0, 0, err
	}
	for n := 0; ; n++ {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return 0, last, fmt.Errorf("direct get from %s after %d messages: no end-of-batch marker: %w", stream, n, err)
		}
		if len(msg.Data) == 0 && msg.Header.Get("Status") != "" {
			switch status := msg.Header.Get("Status"); status {
			case "204": // end of batch
				pending, _ = strconv.ParseUint(msg.Header.Get("Nats-Num-Pending"), 10, 64)
				return pending, last, nil
			case "404": // nothing matches
				return 0, last, nil
			default:
				return 0, last, fmt.Errorf("direct get from %s: %s %s", stream, status, msg.Header.Get("Description"))
			}
		}
		seq, err := strconv.ParseUint(msg.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return 0, last, fmt.Errorf("direct get from %s: message without a sequence", stream)
		}
		last = seq
		if err := fn(msg, seq); err != nil {
			return 0, last, err
		}
	}
}

// ReadSubject hands fn every message of subject (wildcards allowed) in
// stream, in sequence order, page by page.
func ReadSubject(ctx context.Context, js jetstream.JetStream, stream, subject string, fn func(msg *nats.Msg, seq uint64) error) error {
	return ReadSubjectFrom(ctx, js, stream, subject, 1, fn)
}

// ReadSubjectFrom is [ReadSubject] from stream sequence from on.
func ReadSubjectFrom(ctx context.Context, js jetstream.JetStream, stream, subject string, from uint64, fn func(msg *nats.Msg, seq uint64) error) error {
	type request struct {
		Seq   uint64 `json:"seq"`
		Next  string `json:"next_by_subj"`
		Batch int    `json:"batch"`
	}
	for {
		pending, last, err := DirectPage(ctx, js, stream, request{Seq: from, Next: subject, Batch: 256}, fn)
		if err != nil {
			return err
		}
		if pending == 0 || last == 0 {
			return nil
		}
		from = last + 1
	}
}

// apiPrefix is the JetStream API subject prefix of js ("$JS.API." unless
// a prefix or domain is set).
func apiPrefix(o jetstream.JetStreamOptions) string {
	switch {
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "."
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	}
	return "$JS.API."
}
