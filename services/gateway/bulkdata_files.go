package gateway

import (
	"bytes"
	"context"
	"errors"
	"net/url"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/fhir"
	"github.com/jetexport/jetexport/internal/signing"
)

// bulkFileAuth authenticates a manifest file download when the
// configuration requires the access token besides the signature.
func (g *Gateway) bulkFileAuth(c *fiber.Ctx) error {
	if !g.cfg.FHIR.RequiresAccessToken {
		return c.Next()
	}
	return g.authenticate(c)
}

// bulkFile handles GET /fhir/bulkfiles/{tenant}/{jobId}/{name}: one output
// file of a manifest (or its warnings), as application/fhir+ndjson streamed
// from the object store like the /v1 downloads, gzip-compressed when the
// client accepts it. A deleted or cancelled export's files answer 404.
func (g *Gateway) bulkFile(c *fiber.Ctx) error {
	path := utils.CopyString(c.Path())
	q, err := url.ParseQuery(string(c.Request().URI().QueryString()))
	if err == nil {
		err = g.signer.Verify(path, q)
	}
	switch {
	case errors.Is(err, signing.ErrExpired):
		return fail(kindForbidden, "the file URL has expired (%v); fetch the manifest again from the status URL for fresh URLs", err).withCode("link_expired")
	case err != nil && (errors.Is(err, signing.ErrBadSignature) || q == nil):
		return fail(kindForbidden, "the file URL's signature is not valid (%v); use the URLs exactly as the manifest gives them", err).withCode("invalid_signature")
	case err != nil:
		return unavailable("the signing keys", err)
	}
	tenant := events.Tenant(c.Params("tenant"))
	if !tenant.Valid() || g.cfg.FHIR.RequiresAccessToken && callerOf(c).Tenant != tenant {
		return fail(kindNotFound, "no such file").withCode("file_not_found")
	}
	job, err := g.loadJob(c.UserContext(), tenant, c.Params("jobId"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), readTimeout)
	defer cancel()
	st, _, err := g.bulk.get(ctx, tenant, job.ID)
	if err != nil {
		return unavailable("the export state store", err)
	}
	switch {
	case st.Deleted != nil, job.Status == events.StatusCancelled:
		return fail(kindNotFound, "export %s was deleted; its files are gone", job.ID).withCode("file_not_found")
	case job.Status == events.StatusExpired:
		return gone("the export's files passed their retention and were removed")
	case job.Status != events.StatusCompleted:
		return fail(kindNotFound, "export %s has no files yet (it is %s)", job.ID, job.Status).withCode("file_not_found")
	}
	name := utils.CopyString(c.Params("name"))
	if name == warningsFile && len(st.Warnings) > 0 {
		return g.writeRaw(c, fiber.StatusOK, contentFHIRNDJSON, warningsNDJSON(st.Warnings))
	}
	if name == signing.ExportName {
		return fail(kindNotFound, "export %s has no file %q", job.ID, name).withCode("file_not_found")
	}
	objects, _, err := selectObjects(job, name)
	if err != nil {
		return err
	}
	return g.streamObjects(c, objects, contentFHIRNDJSON, "")
}

// warningsNDJSON is one OperationOutcome line per warning.
func warningsNDJSON(warnings []string) []byte {
	var b bytes.Buffer
	for _, w := range warnings {
		b.Write(fhir.OperationOutcome(fhir.SeverityWarning, fhir.IssueNotSupported, w))
		b.WriteByte('\n')
	}
	return b.Bytes()
}
