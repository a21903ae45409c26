package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"math"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
)

// jobView is the data of GET /v1/bulk/jobs/{jobId}.
type jobView struct {
	JobID           string            `json:"jobId"`
	Status          events.Status     `json:"status"`
	ResourceTypes   []string          `json:"resourceTypes"`
	Since           *string           `json:"since"`
	CreatedAt       string            `json:"createdAt"`
	StartedAt       *string           `json:"startedAt"`
	CompletedAt     *string           `json:"completedAt"`
	TransactionTime *string           `json:"transactionTime"`
	Progress        progressView      `json:"progress"`
	Error           *failureView      `json:"error,omitempty"`
	DownloadURL     string            `json:"downloadUrl,omitempty"`
	ExpiresAt       *string           `json:"expiresAt,omitempty"`
	Files           *[]fileView       `json:"files,omitempty"`
	Webhooks        []events.Delivery `json:"webhooks,omitempty"`
}

type progressView struct {
	Resources int64 `json:"resources"`
	Bytes     int64 `json:"bytes"`
	Files     int   `json:"files"`
	// Percent is null until the exporter knows the total.
	Percent *float64 `json:"percent"`
}

type failureView struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type fileView struct {
	ResourceType string `json:"resourceType"`
	URL          string `json:"url"`
	Count        int64  `json:"count"`
	Bytes        int64  `json:"bytes"`
}

// getJob handles GET /v1/bulk/jobs/{jobId}.
func (g *Gateway) getJob(c *fiber.Ctx) error {
	job, err := g.loadJob(c.UserContext(), keyOf(c).Tenant, c.Params("jobId"))
	if err != nil {
		return err
	}
	return g.respond(c, fiber.StatusOK, g.toJobView(job, g.baseURL(c)))
}

// cancelJob handles DELETE /v1/bulk/jobs/{jobId}: it records the request
// to cancel; the exporter stops and removes the parts.
func (g *Gateway) cancelJob(c *fiber.Ctx) error {
	key := keyOf(c)
	job, err := g.loadJob(c.UserContext(), key.Tenant, c.Params("jobId"))
	if err != nil {
		return err
	}
	switch job.Status {
	case events.StatusCancelled, events.StatusExpired, events.StatusFailed:
		return fail(kindConflict, "job %s is already %s; there is nothing to cancel", job.ID, job.Status).
			withCode("job_" + string(job.Status))
	}
	ev, err := g.requestCancel(c.UserContext(), key.Tenant, key.ID, job.ID)
	if err != nil {
		return err
	}
	g.log.Info().Str("request_id", g.requestID(c)).Str("tenant", string(key.Tenant)).
		Str("job_id", job.ID).Msg("export cancel requested")
	return g.respond(c, fiber.StatusAccepted, g.toJobView(events.Apply(job, ev), ""))
}

// requestCancel records that by asked to cancel a tenant's job; the
// exporter stops it and removes its parts. Both doors cancel through it.
func (g *Gateway) requestCancel(ctx context.Context, t events.Tenant, by, jobID string) (events.Event, error) {
	ev := events.New(ulid.Make().String(), g.now(), t, jobID, &events.ExportCancelRequested{By: by})
	ctx, cancel := context.WithTimeout(ctx, g.cfg.PublishTimeout)
	defer cancel()
	if _, err := broker.Publish(ctx, g.assets.JS, ev, events.MsgID(jobID, events.KindCancel, "")); err != nil {
		return events.Event{}, unavailable("the event log", err).withCode("publish_failed")
	}
	return ev, nil
}

// loadJob reads a tenant's job from the projection or, while the
// projection has not caught up with a new job, from its requested event.
// Ids that are malformed, unknown or another tenant's are all not found.
func (g *Gateway) loadJob(ctx context.Context, t events.Tenant, id string) (events.Job, error) {
	if !events.ValidJobID(id) {
		return events.Job{}, fail(kindNotFound, "no job %q: job ids look like job_01J...", truncate(id, 64)).withCode("job_not_found")
	}
	id = utils.CopyString(id)
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	entry, err := g.assets.Jobs.Get(ctx, events.JobKey(t, id))
	if err == nil {
		var job events.Job
		if err := json.Unmarshal(entry.Value(), &job); err != nil {
			return events.Job{}, fail(kindInternal, "job %s cannot be read", id).because(err)
		}
		return withCancel(ctx, g.assets.Stream, job), nil
	}
	if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return events.Job{}, unavailable("the job store", err)
	}
	ev, err := broker.LastEvent(ctx, g.assets.Stream, t, id, events.KindRequested)
	if errors.Is(err, broker.ErrNotFound) {
		return events.Job{}, fail(kindNotFound, "no job %s for this API key", id).withCode("job_not_found")
	}
	if err != nil {
		return events.Job{}, unavailable("the event log", err)
	}
	return withCancel(ctx, g.assets.Stream, events.Apply(events.Job{}, ev)), nil
}

// withCancel folds in a cancellation the projection has not reached yet, so
// that a client reading its job right after DELETE sees it cancelled.
func withCancel(ctx context.Context, s jetstream.Stream, job events.Job) events.Job {
	if job.Status == events.StatusCancelled || job.Status == events.StatusExpired || job.Status == events.StatusFailed {
		return job
	}
	ev, err := broker.LastEvent(ctx, s, job.Tenant, job.ID, events.KindCancel)
	if err != nil || ev.Seq <= job.LastSeq {
		return job
	}
	return events.Apply(job, ev)
}

// toJobView shapes a job for the API; a completed job gets signed links
// under baseURL (none when baseURL is "").
func (g *Gateway) toJobView(job events.Job, baseURL string) jobView {
	v := jobView{
		JobID: job.ID, Status: job.Status, ResourceTypes: job.Request.ResourceTypes,
		Since: rfc3339(job.Request.Since), CreatedAt: *rfc3339(&job.CreatedAt),
		StartedAt: rfc3339(job.StartedAt), CompletedAt: rfc3339(job.CompletedAt),
		TransactionTime: rfc3339(job.TransactionTime),
		Progress:        progressView{Resources: job.Resources, Bytes: job.Bytes, Files: len(job.Files)},
		Webhooks:        job.Webhooks,
	}
	if v.ResourceTypes == nil {
		v.ResourceTypes = []string{}
	}
	if p, ok := job.Percent(); ok {
		p = math.Round(p*10) / 10
		v.Progress.Percent = &p
	}
	if job.Error != nil {
		v.Error = &failureView{Code: job.Error.Code, Message: job.Error.Message}
	}
	if job.Status == events.StatusCompleted && baseURL != "" {
		links := g.signer.JobLinks(baseURL, job, g.cfg.URLTTL)
		v.DownloadURL, v.ExpiresAt = links.DownloadURL, rfc3339(&links.ExpiresAt)
		files := make([]fileView, len(links.Files))
		for i, f := range links.Files {
			files[i] = fileView{ResourceType: f.ResourceType, URL: f.URL, Count: f.Count, Bytes: f.Bytes}
		}
		v.Files = &files
	}
	return v
}
