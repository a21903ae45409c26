package fhirstore

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

// lastAsOfTimeout bounds one batched direct get, answer and all.
const lastAsOfTimeout = 30 * time.Second

// lastAsOf returns the value of each of subjects as of stream sequence upTo,
// leaving out those absent or deleted then, with a batched direct get
// (multi_last, up_to_seq). It reads until the server's end-of-batch marker
// and asks again from where the server stopped if it stopped early (its
// byte limit), so the answer is complete or an error: never silently short,
// which a reader that ends on a timeout would be under load.
func lastAsOf(ctx context.Context, js jetstream.JetStream, subjects []string, upTo uint64) ([]Record, error) {
	nc := js.Conn()
	subject := apiPrefix(js.Options()) + "DIRECT.GET." + fhirStream
	var out []Record
	var from uint64
	for {
		req, err := json.Marshal(struct {
			MultiLast []string `json:"multi_last"`
			UpToSeq   uint64   `json:"up_to_seq"`
			Seq       uint64   `json:"seq,omitempty"`
		}{subjects, upTo, from})
		if err != nil {
			return nil, err
		}
		recs, next, err := lastAsOfPage(ctx, nc, subject, req)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
		if next == 0 {
			return out, nil
		}
		from = next
	}
}

// lastAsOfPage sends one request and reads its answer to the end-of-batch
// marker. It returns the sequence to ask from next, or 0 when the answer
// is complete.
func lastAsOfPage(ctx context.Context, nc *nats.Conn, subject string, req []byte) ([]Record, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, lastAsOfTimeout)
	defer cancel()
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, 0, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(subject, inbox, req); err != nil {
		return nil, 0, err
	}
	var out []Record
	var last uint64
	for {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("batched get after %d records: no end-of-batch marker: %w", len(out), err)
		}
		if len(msg.Data) == 0 && msg.Header.Get("Status") != "" {
			switch status := msg.Header.Get("Status"); status {
			case "204": // end of batch
				pending, _ := strconv.ParseUint(msg.Header.Get("Nats-Num-Pending"), 10, 64)
				if pending > 0 && last > 0 {
					return out, last + 1, nil
				}
				return out, 0, nil
			case "404": // none of the subjects has a value as of the sequence
				return out, 0, nil
			default:
				return nil, 0, fmt.Errorf("batched get: %s %s", status, msg.Header.Get("Description"))
			}
		}
		seq, err := strconv.ParseUint(msg.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("batched get: message without a sequence: %w", err)
		}
		last = seq
		if msg.Header.Get(kvOperation) != "" {
			continue // deleted as of the sequence
		}
		ts, err := time.Parse(time.RFC3339Nano, msg.Header.Get(jetstream.TimeStampHeaer))
		if err != nil {
			return nil, 0, fmt.Errorf("batched get: message without a time: %w", err)
		}
		out = append(out, Record{Seq: seq, Time: ts, Data: msg.Data})
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
