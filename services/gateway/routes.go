package gateway

import (
	"runtime/debug"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
)

// routes declares the whole HTTP API.
//
//	GET    /healthz                          no key     200 {"status":"ok"} while NATS is connected
//	POST   /v1/bulk/export                   x-api-key  start an export job (202)
//	GET    /v1/bulk/jobs/:jobId              x-api-key  job status, progress and, when completed, signed links
//	DELETE /v1/bulk/jobs/:jobId              x-api-key  cancel a job (202)
//	POST   /v1/webhooks                      x-api-key  subscribe an endpoint (201, secret shown once)
//	GET    /v1/webhooks[/:id]                x-api-key  list or read subscriptions
//	GET    /v1/webhooks/default-secret       x-api-key  the secret one-off webhookUrl deliveries are signed with
//	DELETE /v1/webhooks/:id                  x-api-key  unsubscribe
//	POST   /v1/webhooks/:id/rotate           x-api-key  new secret; the old one signs too for a grace period
//	GET    /v1/files/:tenant/:jobId/:name    signature  one NDJSON part (<Type>.<n>.ndjson) or the whole export (export.ndjson)
//	POST   /fhir                             x-api-key  batch or transaction Bundle
//	POST   /fhir/:type                       x-api-key  create a record (server-assigned id)
//	PUT    /fhir/:type/:id                   x-api-key  create or update a record
//	GET    /fhir/:type/:id                   x-api-key  read a record
//	DELETE /fhir/:type/:id                   x-api-key  delete a record
//
// Routes under /fhir with a literal segment (such as /fhir/$export or
// /fhir/Patient/$export) must be declared before the /fhir/:type ones,
// which would otherwise take them.
func (g *Gateway) routes() {
	app := g.app
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: keepStack}))
	app.Use(g.setRequestID)

	app.Get("/healthz", g.health)

	// The signature in the query, not an API key, authorises a download.
	app.Get("/v1/files/:tenant/:jobId/:name", g.download)

	bulk := app.Group("/v1/bulk", g.authenticate)
	bulk.Post("/export", g.startExport)
	bulk.Get("/jobs/:jobId", g.getJob)
	bulk.Delete("/jobs/:jobId", g.cancelJob)

	hooks := app.Group("/v1/webhooks", g.authenticate)
	hooks.Post("/", g.createWebhook)
	hooks.Get("/", g.listWebhooks)
	hooks.Get("/default-secret", g.defaultWebhookSecret)
	hooks.Get("/:id", g.getWebhook)
	hooks.Delete("/:id", g.deleteWebhook)
	hooks.Post("/:id/rotate", g.rotateWebhook)

	if g.records != nil {
		f := app.Group("/fhir", g.authenticate)
		f.Post("/", g.fhirBundle)
		f.Post("/:type", g.fhirCreate)
		f.Put("/:type/:id", g.fhirUpdate)
		f.Get("/:type/:id", g.fhirRead)
		f.Delete("/:type/:id", g.fhirDelete)
	}
}

const localStack = "panic_stack"

// keepStack keeps a panic's stack for handleError, which logs it once with
// the request.
func keepStack(c *fiber.Ctx, _ any) { c.Locals(localStack, debug.Stack()) }

// health answers whether this gateway can reach NATS.
func (g *Gateway) health(c *fiber.Ctx) error {
	if !g.assets.JS.Conn().IsConnected() {
		return g.writeJSON(c, fiber.StatusServiceUnavailable, map[string]string{
			"status": "unavailable", "message": "not connected to NATS"})
	}
	return g.writeJSON(c, fiber.StatusOK, map[string]string{"status": "ok"})
}
