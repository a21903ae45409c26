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
//	POST   /v1/clients                       x-api-key  register a SMART Backend Services client (201)
//	GET    /v1/clients                       x-api-key  list the tenant's SMART clients
//	DELETE /v1/clients/:clientId             x-api-key  revoke a SMART client
//	GET    /.well-known/smart-configuration  none       SMART discovery (also under /fhir)
//	POST   /auth/token                       assertion  SMART token endpoint: client_credentials + private_key_jwt
//	GET    /fhir/metadata                    none       CapabilityStatement (Bulk Data, SMART token endpoint)
//	GET    /fhir/$export                     token/key  system-level kick-off (also POST with a Parameters body)
//	GET    /fhir/Patient/$export             token/key  Patient-level kick-off (also POST)
//	GET    /fhir/Group/:id/$export           token/key  Group-level kick-off (also POST)
//	GET    /fhir/bulkstatus/:jobId           token/key  202 + X-Progress while running, 200 + manifest when done
//	DELETE /fhir/bulkstatus/:jobId           token/key  cancel or discard an export (202)
//	GET    /fhir/bulkfiles/:tenant/:jobId/:name signature (+ token/key if configured)  one manifest file
//	POST   /fhir                             x-api-key  batch or transaction Bundle
//	POST   /fhir/:type                       x-api-key  create a record (server-assigned id)
//	PUT    /fhir/:type/:id                   x-api-key  create or update a record
//	GET    /fhir/:type/:id                   token/key  read a record (a token needs a scope covering the type)
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

	app.Post("/v1/clients", g.authenticate, g.registerClient)
	app.Get("/v1/clients", g.authenticate, g.listClients)
	app.Delete("/v1/clients/:clientId", g.authenticate, g.revokeClient)

	// SMART Backend Services and the FHIR Bulk Data door, before /fhir/:type.
	app.Get("/.well-known/smart-configuration", g.smartConfiguration)
	app.Get("/fhir/.well-known/smart-configuration", g.smartConfiguration)
	app.Post(tokenPath, g.token)
	app.Get("/fhir/metadata", g.metadata)
	// Fiber matches the raw path: clients that encode the $ are served too.
	for _, p := range []string{"/fhir/$export", "/fhir/Patient/$export", "/fhir/Group/:id/$export",
		"/fhir/%24export", "/fhir/Patient/%24export", "/fhir/Group/:id/%24export"} {
		app.Get(p, g.authenticate, g.kickOff)
		app.Post(p, g.authenticate, g.kickOff)
	}
	app.Get(statusPath+":jobId", g.authenticate, g.bulkStatus)
	app.Delete(statusPath+":jobId", g.authenticate, g.bulkDelete)
	app.Get(filesPath+":tenant/:jobId/:name", g.bulkFileAuth, g.bulkFile)

	if g.records != nil {
		f := app.Group("/fhir", g.authenticate, g.checkRecordScope)
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
