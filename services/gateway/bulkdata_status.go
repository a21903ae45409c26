package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/fhir"
)

// filesPath starts every manifest file URL: filesPath +
// <tenant>/<jobId>/<Type>.<n>.ndjson, signed.
const filesPath = "/fhir/bulkfiles/"

// warningsFile names the OperationOutcome file of a lenient kick-off's
// warnings.
const warningsFile = "OperationOutcome.warnings.ndjson"

// manifest is the complete-status answer of the Bulk Data IG.
type manifest struct {
	TransactionTime     string         `json:"transactionTime"`
	Request             string         `json:"request"`
	RequiresAccessToken bool           `json:"requiresAccessToken"`
	Output              []manifestFile `json:"output"`
	Error               []manifestFile `json:"error"`
}

type manifestFile struct {
	Type  string `json:"type"`
	URL   string `json:"url"`
	Count *int64 `json:"count,omitempty"`
}

// bulkStatus handles GET /fhir/bulkstatus/{jobId}: 202 with X-Progress and
// Retry-After while the job runs (and on the first poll, always), 200 with
// the manifest when it is done, an OperationOutcome when it failed, was
// cancelled or deleted; 429 when polled faster than MinPollInterval.
func (g *Gateway) bulkStatus(c *fiber.Ctx) error {
	cl := callerOf(c)
	job, err := g.loadJob(c.UserContext(), cl.Tenant, c.Params("jobId"))
	if err != nil {
		return err
	}
	st, err := g.admitPoll(c.UserContext(), cl.Tenant, job.ID)
	if err != nil {
		return err
	}
	switch {
	case st.Polls == 1 || job.Status == events.StatusPending || job.Status == events.StatusProcessing:
		c.Set(headerXProgress, progressText(job))
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int((g.cfg.FHIR.MinPollInterval+time.Second-1)/time.Second)))
		// No body: clients parse the status answer as JSON (the manifest),
		// and Fiber's default "Accepted" text is not.
		c.Status(fiber.StatusAccepted)
		return nil
	case job.Status == events.StatusCompleted:
		m, expires := g.toManifest(c, job, st)
		b, err := marshal(m)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderExpires, expires.UTC().Format(http.TimeFormat))
		return g.writeRaw(c, fiber.StatusOK, contentJSON, b)
	case job.Status == events.StatusFailed:
		msg := "the export failed"
		if job.Error != nil {
			msg = fmt.Sprintf("the export failed (%s): %s", job.Error.Code, job.Error.Message)
		}
		return g.writeRaw(c, fiber.StatusInternalServerError, contentFHIR,
			fhir.OperationOutcome(fhir.SeverityError, fhir.IssueException, msg))
	case job.Status == events.StatusExpired:
		return gone("the export's files passed their retention and were removed; start a new export")
	default:
		return fail(kindNotFound, "export %s was cancelled", job.ID).withCode("job_cancelled")
	}
}

// headerXProgress carries the Bulk Data IG's progress text.
const headerXProgress = "X-Progress"

// admitPoll counts a poll of an export: 404 once it was deleted, 429 when
// it comes sooner than MinPollInterval after the last one.
func (g *Gateway) admitPoll(ctx context.Context, t events.Tenant, jobID string) (bulkJob, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	minGap := g.cfg.FHIR.MinPollInterval
	st, err := g.bulk.update(ctx, t, jobID, func(s *bulkJob) error {
		if s.Deleted != nil {
			return fail(kindNotFound, "export %s was deleted", jobID).withCode("job_deleted")
		}
		now := g.now()
		if wait := s.LastPoll.Add(minGap).Sub(now); s.Polls > 0 && wait > 0 {
			return fail(kindRateLimited, "polled %s after the last poll; poll at most every %s", now.Sub(s.LastPoll).Round(time.Millisecond), minGap).
				withCode("polling_too_fast").retryIn(wait)
		}
		s.Polls++
		s.LastPoll = now
		return nil
	})
	if _, ok := err.(*apiError); ok || err == nil {
		return st, err
	}
	return bulkJob{}, unavailable("the export state store", err)
}

// progressText is the X-Progress of a running job (under 100 characters).
func progressText(job events.Job) string {
	switch job.Status {
	case events.StatusPending:
		return "queued"
	case events.StatusCompleted:
		return fmt.Sprintf("complete: %d resources in %d files", job.Resources, len(job.Files))
	}
	p, ok := job.Percent()
	if !ok {
		return fmt.Sprintf("processing: %d resources written", job.Resources)
	}
	return fmt.Sprintf("%.0f%% (%d resources written)", p, job.Resources)
}

// toManifest builds the manifest with freshly signed file URLs, valid for
// URLTTL but never past the files' retention; it returns their expiry.
func (g *Gateway) toManifest(c *fiber.Ctx, job events.Job, st bulkJob) (manifest, time.Time) {
	base := g.baseURL(c)
	exp := g.now().Add(g.cfg.URLTTL)
	if job.CompletedAt != nil && g.assets.Config.Retention > 0 {
		if end := job.CompletedAt.Add(g.assets.Config.Retention); end.Before(exp) {
			exp = end
		}
	}
	exp = exp.Truncate(time.Second)
	m := manifest{Request: job.Request.RequestURL, RequiresAccessToken: g.cfg.FHIR.RequiresAccessToken,
		Output: make([]manifestFile, 0, len(job.Files)), Error: []manifestFile{}}
	if job.TransactionTime != nil {
		m.TransactionTime = job.TransactionTime.UTC().Format(time.RFC3339Nano)
	}
	for _, f := range job.Files {
		object := f.Object
		if object == "" {
			object = events.ObjectName(job.Tenant, job.ID, f.ResourceType, f.Part)
		}
		count := f.Count
		m.Output = append(m.Output, manifestFile{Type: f.ResourceType, URL: base + g.signer.Sign(filesPath+object, exp), Count: &count})
	}
	if len(st.Warnings) > 0 {
		path := filesPath + events.ObjectPrefix(job.Tenant, job.ID) + warningsFile
		m.Error = append(m.Error, manifestFile{Type: "OperationOutcome", URL: base + g.signer.Sign(path, exp)})
	}
	return m, exp
}

// bulkDelete handles DELETE /fhir/bulkstatus/{jobId}: it cancels a running
// export or discards a finished one (the exporter removes the files), and
// from then on the status and file URLs answer 404.
func (g *Gateway) bulkDelete(c *fiber.Ctx) error {
	cl := callerOf(c)
	job, err := g.loadJob(c.UserContext(), cl.Tenant, c.Params("jobId"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), readTimeout)
	defer cancel()
	st, _, err := g.bulk.get(ctx, cl.Tenant, job.ID)
	if err != nil {
		return unavailable("the export state store", err)
	}
	if st.Deleted != nil {
		return fail(kindNotFound, "export %s was deleted already", job.ID).withCode("job_deleted")
	}
	// Cancel first: should marking it deleted fail, the job still ends,
	// and a cancelled job's status URL answers 404 too.
	switch job.Status {
	case events.StatusPending, events.StatusProcessing, events.StatusCompleted:
		if _, err := g.requestCancel(ctx, cl.Tenant, cl.ID, job.ID); err != nil {
			return err
		}
	}
	if _, err = g.bulk.update(ctx, cl.Tenant, job.ID, func(s *bulkJob) error {
		now := g.now().UTC()
		s.Deleted = &now
		return nil
	}); err != nil {
		return unavailable("the export state store", err)
	}
	g.log.Info().Str("request_id", g.requestID(c)).Str("tenant", string(cl.Tenant)).Str("job_id", job.ID).
		Str("status", string(job.Status)).Msg("FHIR export deleted")
	return g.writeRaw(c, fiber.StatusAccepted, contentFHIR, fhir.OperationOutcome(fhir.SeverityInformation,
		fhir.IssueInformational, "export "+job.ID+" is deleted; its status and file URLs answer 404 from now on"))
}
