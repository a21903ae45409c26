package gateway

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/oklog/ulid/v2"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/apikeys"
)

// startedView is the data of a 202 answer to POST /v1/bulk/export.
type startedView struct {
	JobID   string        `json:"jobId"`
	Status  events.Status `json:"status"`
	Message string        `json:"message"`
}

// startExport handles POST /v1/bulk/export: validate, publish
// ExportRequested, and hand out the job id only once the log holds it.
func (g *Gateway) startExport(c *fiber.Ctx) error {
	if err := requireContentType(c.Get(fiber.HeaderContentType), contentJSON); err != nil {
		return err
	}
	body, err := requestBody(c, g.cfg.ExportBodyLimit)
	if err != nil {
		return err
	}
	p, err := decodeExportRequest(body)
	if err != nil {
		return err
	}
	if p.WebhookURL != "" {
		if _, err := g.cfg.WebhookPolicy.CheckURL(c.UserContext(), keyOf(c).Tenant.Mode(), p.WebhookURL); err != nil {
			e := fail(kindInvalid, "webhookUrl: %v", err)
			e.details = []detail{{Field: "webhookUrl", Message: err.Error()}}
			return e
		}
	}
	jobID := newJobID()
	ev := toExportRequested(jobID, keyOf(c), p, g.baseURL(c)+c.OriginalURL(), g.now())
	if err := g.requestExport(c.UserContext(), ev); err != nil {
		return err
	}
	g.log.Info().Str("request_id", g.requestID(c)).Str("tenant", string(ev.Tenant)).
		Str("job_id", jobID).Strs("resource_types", p.ResourceTypes).Msg("export requested")
	return g.respond(c, fiber.StatusAccepted, startedView{JobID: jobID, Status: events.StatusPending,
		Message: "Export job started"})
}

// toExportRequested builds the event that creates the job.
func toExportRequested(jobID string, key apikeys.Key, p exportParams, requestURL string, now time.Time) events.Event {
	return events.New(ulid.Make().String(), now, key.Tenant, jobID, &events.ExportRequested{
		ResourceTypes: p.ResourceTypes,
		Since:         p.Since,
		Level:         events.LevelSystem,
		Door:          "rest",
		RequestURL:    requestURL,
		Requester:     key.ID,
		WebhookURL:    p.WebhookURL,
	})
}

// newJobID mints "job_" and a ULID: unique, and sortable by creation.
func newJobID() string { return "job_" + ulid.Make().String() }

// baseURL is the scheme and host links start with: the configured public
// URL, or else the one the client reached this gateway at.
func (g *Gateway) baseURL(c *fiber.Ctx) string {
	if g.cfg.PublicURL != "" {
		return g.cfg.PublicURL
	}
	return c.BaseURL()
}

// requestExport stores a job's ExportRequested in the log and returns once
// JetStream has acknowledged it: no job exists that the log does not hold.
// Both doors (/v1 and the FHIR $export) start jobs through it, so both
// answer 429 when the tenant already runs MaxActiveExports exports.
func (g *Gateway) requestExport(ctx context.Context, ev events.Event) error {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.PublishTimeout)
	defer cancel()
	return g.admitExport(ctx, ev)
}
