package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/smart"
)

// bucketBulk holds the FHIR door's state of each export, key
// <tenant>.<jobId>: what the job projection does not know because it is
// about the status URL, not the job.
const bucketBulk = "fhir_bulk"

// errPollConflict: another gateway recorded a poll of the same export at
// the same moment.
var errPollConflict = errors.New("concurrent poll")

// bulkJob is the FHIR door's state of one export.
type bulkJob struct {
	// Polls counts the status polls answered; the first is always 202.
	Polls    int       `json:"polls"`
	LastPoll time.Time `json:"lastPoll,omitzero"`
	// Deleted is when the client DELETEd the status URL: from then on the
	// status and file URLs answer 404.
	Deleted *time.Time `json:"deleted,omitempty"`
	// Warnings are what a lenient kick-off ignored; the manifest lists them
	// in an OperationOutcome error file.
	Warnings []string `json:"warnings,omitempty"`
}

// bulkJobs keeps [bulkJob]s in the [bucketBulk] bucket, shared by every
// gateway, so the poll interval and deletions hold across replicas.
type bulkJobs struct{ kv jetstream.KeyValue }

// setupFHIR creates the buckets of the FHIR door and of SMART.
func (g *Gateway) setupFHIR(ctx context.Context) error {
	a := g.assets
	stores, err := smart.Setup(ctx, a.JS, a.Config.Replicas)
	if err != nil {
		return err
	}
	if g.smart, err = smart.New(g.cfg.FHIR.SMART, smart.Deps{Stores: stores, Now: g.now}); err != nil {
		return err
	}
	kv, err := a.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucketBulk,
		Description: "FHIR Bulk Data status URL state per export", History: 1,
		// As long as a job can be read: the event log keeps it this long.
		TTL: max(a.Config.EventMaxAge, time.Hour), Storage: jetstream.FileStorage, Replicas: max(a.Config.Replicas, 1)})
	if err != nil {
		return fmt.Errorf("set up bucket %s: %w", bucketBulk, err)
	}
	g.bulk = &bulkJobs{kv: kv}
	return nil
}

func bulkKey(t events.Tenant, jobID string) string { return string(t) + "." + jobID }

// get returns the state of an export and its revision (zero state and
// revision 0 when none is stored).
func (b *bulkJobs) get(ctx context.Context, t events.Tenant, jobID string) (bulkJob, uint64, error) {
	e, err := b.kv.Get(ctx, bulkKey(t, jobID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return bulkJob{}, 0, nil
	}
	if err != nil {
		return bulkJob{}, 0, fmt.Errorf("read export state: %w", err)
	}
	var s bulkJob
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		return bulkJob{}, 0, fmt.Errorf("read export state: %w", err)
	}
	return s, e.Revision(), nil
}

// put stores s if the stored revision is still rev (0: none stored);
// [errPollConflict] otherwise.
func (b *bulkJobs) put(ctx context.Context, t events.Tenant, jobID string, s bulkJob, rev uint64) error {
	v, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("store export state: %w", err)
	}
	if rev == 0 {
		_, err = b.kv.Create(ctx, bulkKey(t, jobID), v)
	} else {
		_, err = b.kv.Update(ctx, bulkKey(t, jobID), v, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return errPollConflict
	}
	if err != nil {
		return fmt.Errorf("store export state: %w", err)
	}
	return nil
}

// update applies change to the stored state, reading it again when
// another gateway changed it meanwhile. change returns an error to stop.
func (b *bulkJobs) update(ctx context.Context, t events.Tenant, jobID string, change func(*bulkJob) error) (bulkJob, error) {
	for {
		s, rev, err := b.get(ctx, t, jobID)
		if err != nil {
			return bulkJob{}, err
		}
		if err := change(&s); err != nil {
			return s, err
		}
		err = b.put(ctx, t, jobID, s, rev)
		if errors.Is(err, errPollConflict) {
			if ctx.Err() != nil {
				return bulkJob{}, ctx.Err()
			}
			continue
		}
		return s, err
	}
}
