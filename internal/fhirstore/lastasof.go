package fhirstore

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/internal/broker"
)

// lastAsOf returns the value of each of subjects as of stream sequence upTo,
// with its type as typeOf names it from the subject, leaving out those
// absent or deleted then, with a batched direct get
// (multi_last, up_to_seq). It asks again from where the server stopped if
// it stopped early (its byte limit), so the answer is complete or an error:
// never silently short, which a reader that ends on a timeout would be
// under load.
func lastAsOf(ctx context.Context, js jetstream.JetStream, subjects []string, upTo uint64, typeOf func(string) string) ([]Record, error) {
	type request struct {
		MultiLast []string `json:"multi_last"`
		UpToSeq   uint64   `json:"up_to_seq"`
		Seq       uint64   `json:"seq,omitempty"`
	}
	var out []Record
	for from := uint64(0); ; {
		pending, last, err := broker.DirectPage(ctx, js, fhirStream, request{subjects, upTo, from}, func(msg *nats.Msg, seq uint64) error {
			if msg.Header.Get(kvOperation) != "" {
				return nil // deleted as of the sequence
			}
			ts, err := time.Parse(time.RFC3339Nano, msg.Header.Get(jetstream.TimeStampHeaer))
			if err != nil {
				return fmt.Errorf("batched get: message without a time: %w", err)
			}
			subj := broker.StoredSubject(msg)
			typ := typeOf(subj)
			if typ == "" {
				return fmt.Errorf("batched get: answered %s, which was not asked", subj)
			}
			out = append(out, Record{Seq: seq, Time: ts, Type: typ, Data: msg.Data})
			return nil
		})
		if err != nil {
			return nil, err
		}
		if pending == 0 || last == 0 {
			return out, nil
		}
		from = last + 1
	}
}
