package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
)

// The per-tenant limit on running exports ([Config.MaxActiveExports]) is
// decided from the event log alone, which every gateway replica shares:
//
//  1. read the stream sequence L of the tenant's last ExportRequested;
//  2. list the tenant's requested, completed, failed and cancel subjects
//     (from the stream's subject index: no message is read) and count the
//     jobs that were requested and have not ended;
//  3. publish the new ExportRequested on condition that the tenant's last
//     ExportRequested is still L (Nats-Expected-Last-Subject-Sequence with
//     a wildcard subject).
//
// A kick-off of the same tenant that lands between 1 and 3 on any gateway
// makes the publish fail, and the count starts over: two simultaneous
// kick-offs can never both take the last slot. The count is exact, not
// best-effort, and needs no projection (the jobs bucket may lag the log).

// activeRetryAfter is what a kick-off refused for the tenant's running
// exports is told to wait: an export of a few types takes about this long.
const activeRetryAfter = 30 * time.Second

// admitAttempts bounds how often one kick-off counts again because other
// kick-offs of its tenant were stored meanwhile.
const admitAttempts = 5

// errRequestRace is a kick-off whose tenant had another export requested
// between its count and its publish.
var errRequestRace = errors.New("another export of the tenant was requested meanwhile")

// admitExport publishes ev, the ExportRequested of a new job, if its tenant
// has fewer than MaxActiveExports exports pending or processing.
func (g *Gateway) admitExport(ctx context.Context, ev events.Event) error {
	limit := g.cfg.MaxActiveExports
	for attempt := 1; ; attempt++ {
		active, last, err := activeExports(ctx, g.assets.JS, g.assets.Stream, ev.Tenant)
		if err != nil {
			return unavailable("the event log", err).withCode("publish_failed")
		}
		if active >= limit {
			return tooManyExports(ev.Tenant, active, limit)
		}
		err = publishRequested(ctx, g.assets.JS, ev, last)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, errRequestRace):
			return unavailable("the event log", err).withCode("publish_failed")
		case attempt == admitAttempts:
			return fail(kindRateLimited, "tenant %s is starting exports faster than they can be counted; retry in a second", ev.Tenant).
				withCode("too_many_exports").retryIn(time.Second).because(err)
		}
	}
}

// tooManyExports is the 429 answer to a kick-off past the limit.
func tooManyExports(t events.Tenant, active, limit int) *apiError {
	return fail(kindRateLimited, "tenant %s already has %d exports running; the limit is %d. "+
		"Wait for one to finish, or cancel one with DELETE /v1/bulk/jobs/{jobId}", t, active, limit).
		withCode("too_many_exports").retryIn(activeRetryAfter)
}

// requestedSubjects matches every ExportRequested of one tenant.
func requestedSubjects(t events.Tenant) string {
	return fmt.Sprintf("%s.%s.*.%s", events.SubjectRoot, t, events.KindRequested)
}

// activeExports counts t's jobs that are pending or processing, and returns
// the stream sequence of t's last ExportRequested (0 when it has none) the
// count holds for.
func activeExports(ctx context.Context, js jetstream.JetStream, s jetstream.Stream, t events.Tenant) (active int, last uint64, err error) {
	last, err = lastRequested(ctx, js, t)
	if err != nil {
		return 0, 0, err
	}
	var requested map[string]uint64
	ended := map[string]bool{}
	for _, k := range countKinds {
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(fmt.Sprintf("%s.%s.*.%s", events.SubjectRoot, t, k)))
		if err != nil {
			return 0, 0, fmt.Errorf("count exports of %s: %w", t, err)
		}
		if k == events.KindRequested {
			requested = info.State.Subjects
			continue
		}
		for subj := range info.State.Subjects {
			ended[jobOf(subj)] = true
		}
	}
	for subj := range requested {
		if !ended[jobOf(subj)] {
			active++
		}
	}
	return active, last, nil
}

// countKinds are the events the count reads: requested, and the first
// event that can end a job (cancelled follows cancel, and expired follows
// completed or failed, so neither needs reading). A cancelled job reads
// cancelled at once, even while its worker stops. One filter per kind keeps
// the answer to the subjects needed: listing every event subject of a
// tenant with 1,000 finished jobs took 37 ms, these four take 6 ms
// (BenchmarkActiveExports, 2 cores).
var countKinds = []events.Kind{events.KindRequested, events.KindCompleted, events.KindFailed, events.KindCancel}

// jobOf returns the job id token of an event subject, bulk.<tenant>.<jobId>.<kind>.
func jobOf(subject string) string {
	_, rest, _ := strings.Cut(subject, ".")
	_, rest, _ = strings.Cut(rest, ".")
	job, _, _ := strings.Cut(rest, ".")
	return job
}

// msgGetRequest is the body of a JetStream message get.
type msgGetRequest struct {
	LastBySubject string `json:"last_by_subj"`
}

// msgGetResponse is the part of its answer read here.
type msgGetResponse struct {
	Message *struct {
		Seq uint64 `json:"seq"`
	} `json:"message"`
	Error *jetstream.APIError `json:"error"`
}

// lastRequested returns the stream sequence of t's last ExportRequested,
// or 0. It asks the stream leader (a direct get may be answered by a
// replica that lags, and the library's direct get cannot take a wildcard).
func lastRequested(ctx context.Context, js jetstream.JetStream, t events.Tenant) (uint64, error) {
	body, err := json.Marshal(msgGetRequest{LastBySubject: requestedSubjects(t)})
	if err != nil {
		return 0, err
	}
	reply, err := js.Conn().RequestWithContext(ctx, jetstream.DefaultAPIPrefix+"STREAM.MSG.GET."+events.StreamBulk, body)
	if err != nil {
		return 0, fmt.Errorf("last export request of %s: %w", t, err)
	}
	var resp msgGetResponse
	if err := json.Unmarshal(reply.Data, &resp); err != nil {
		return 0, fmt.Errorf("last export request of %s: %w", t, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return 0, nil
	case resp.Error != nil:
		return 0, fmt.Errorf("last export request of %s: %w", t, resp.Error)
	case resp.Message == nil:
		return 0, fmt.Errorf("last export request of %s: %w", t, jetstream.ErrInvalidJetStreamResponse)
	}
	return resp.Message.Seq, nil
}

// publishRequested stores ev on condition that its tenant's last
// ExportRequested is still at sequence last; errRequestRace when not.
func publishRequested(ctx context.Context, js jetstream.JetStream, ev events.Event, last uint64) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(ev.Subject())
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, events.MsgID(ev.JobID, events.KindRequested, ""))
	_, err = js.PublishMsg(ctx, msg, jetstream.WithExpectStream(events.StreamBulk),
		jetstream.WithExpectLastSequenceForSubject(last, requestedSubjects(ev.Tenant)))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return fmt.Errorf("publish %s: %w", ev.Type, errRequestRace)
	}
	if err != nil {
		return fmt.Errorf("publish %s: %w", ev.Type, err)
	}
	return nil
}
