// Package gateway is jetexport's HTTP front door, built on Fiber.
//
// It does four things, all declared in routes.go:
//
//   - Starts exports: POST /v1/bulk/export validates the request, mints a
//     job id, publishes events.ExportRequested to the BULK stream and
//     answers 202 only once JetStream has acknowledged it (503 and no job
//     id otherwise): no job exists that the log does not hold.
//   - Answers job status: GET /v1/bulk/jobs/{jobId} reads the job document
//     the projector keeps in KV jobs. Right after kick-off the projection
//     may lag; the gateway then reads the job's requested event straight
//     from the stream and answers pending, so a job id it handed out never
//     answers 404. DELETE publishes events.ExportCancelRequested.
//   - Serves downloads: a completed job's links are signed
//     (internal/signing) and served under /v1/files/ without an API key,
//     streamed from the object store one object at a time, gzip-compressed
//     on the fly when the client accepts it.
//   - Stores clinical records: the /fhir endpoints hand FHIR resources and
//     Bundles to a [RecordStore].
//
// Every /v1 answer is the {data, meta} envelope, every /v1 error the
// {error: {code, message, details}, meta} envelope, and every /fhir error an
// OperationOutcome; the HTTP status of every error is chosen in one place,
// the Fiber error handler in errors.go. API keys scope everything to their
// tenant: another tenant's job id is simply not found.
//
// Rate limits are counted per API key in fixed windows, in the memory of
// each gateway process: behind a load balancer with N gateways a key can
// make up to N times the limit, and a restart resets the counts.
package gateway
