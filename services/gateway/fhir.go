package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/fhir"
	"github.com/jetexport/jetexport/internal/fhirstore"
)

// RecordStore keeps a tenant's FHIR records; *fhirstore.Store is the one
// jetexport uses. Errors wrap the fhirstore sentinels (ErrNotFound,
// ErrDeleted, ErrInvalid, ErrTooLarge, ErrConflict) for what the client did;
// anything else is a failure of the store.
type RecordStore interface {
	Put(ctx context.Context, t events.Tenant, typ, id string, body []byte) (fhirstore.Result, error)
	Create(ctx context.Context, t events.Tenant, typ string, body []byte) (fhirstore.Result, error)
	Get(ctx context.Context, t events.Tenant, typ, id string) (fhirstore.Result, error)
	Delete(ctx context.Context, t events.Tenant, typ, id string) error
	ApplyBundle(ctx context.Context, t events.Tenant, body []byte) ([]byte, error)
}

// bundleTimeout bounds one batch or transaction: a Synthea patient's Bundle
// holds thousands of entries.
const bundleTimeout = 2 * time.Minute

// fhirUpdate handles PUT /fhir/{type}/{id}: create or update.
func (g *Gateway) fhirUpdate(c *fiber.Ctx) error {
	body, err := g.fhirBody(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), readTimeout)
	defer cancel()
	res, err := g.records.Put(ctx, keyOf(c).Tenant, utils.CopyString(c.Params("type")), utils.CopyString(c.Params("id")), body)
	if err != nil {
		return recordError(err)
	}
	status := fiber.StatusOK
	if res.Created {
		status = fiber.StatusCreated
	}
	return g.writeRecord(c, status, res)
}

// fhirCreate handles POST /fhir/{type}: create with a server-assigned id.
func (g *Gateway) fhirCreate(c *fiber.Ctx) error {
	body, err := g.fhirBody(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), readTimeout)
	defer cancel()
	res, err := g.records.Create(ctx, keyOf(c).Tenant, utils.CopyString(c.Params("type")), body)
	if err != nil {
		return recordError(err)
	}
	return g.writeRecord(c, fiber.StatusCreated, res)
}

// fhirRead handles GET /fhir/{type}/{id}.
func (g *Gateway) fhirRead(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), readTimeout)
	defer cancel()
	res, err := g.records.Get(ctx, keyOf(c).Tenant, c.Params("type"), c.Params("id"))
	if err != nil {
		return recordError(err)
	}
	return g.writeRecord(c, fiber.StatusOK, res)
}

// fhirDelete handles DELETE /fhir/{type}/{id}; deleting what is not there
// succeeds too, as FHIR allows.
func (g *Gateway) fhirDelete(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), readTimeout)
	defer cancel()
	if err := g.records.Delete(ctx, keyOf(c).Tenant, c.Params("type"), c.Params("id")); err != nil {
		return recordError(err)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// fhirBundle handles POST /fhir: a batch or transaction Bundle, answered
// with the batch-response or transaction-response Bundle.
func (g *Gateway) fhirBundle(c *fiber.Ctx) error {
	body, err := g.fhirBody(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), bundleTimeout)
	defer cancel()
	out, err := g.records.ApplyBundle(ctx, keyOf(c).Tenant, body)
	if err != nil {
		return recordError(err)
	}
	return g.writeRaw(c, fiber.StatusOK, contentFHIR, out)
}

// fhirBody checks a /fhir request's media type and size and returns a copy
// of its body (see [requestBody]), which the store may keep past the handler.
func (g *Gateway) fhirBody(c *fiber.Ctx) ([]byte, error) {
	if err := requireContentType(c.Get(fiber.HeaderContentType), contentFHIR, contentJSON); err != nil {
		return nil, err
	}
	return requestBody(c, g.cfg.FHIRBodyLimit)
}

// writeRecord answers with a stored record and its version headers.
func (g *Gateway) writeRecord(c *fiber.Ctx, status int, res fhirstore.Result) error {
	c.Set(fiber.HeaderETag, `W/"`+res.VersionID+`"`)
	c.Set(fiber.HeaderLastModified, res.LastUpdated.UTC().Format(http.TimeFormat))
	if status == fiber.StatusCreated || c.Method() == fiber.MethodPut {
		c.Set(fiber.HeaderLocation, g.baseURL(c)+"/fhir/"+res.Type+"/"+res.ID+"/_history/"+res.VersionID)
	}
	return g.writeRaw(c, status, contentFHIR, res.Body)
}

// recordError turns a RecordStore error into the error answered: the
// store's sentinels are the client's to fix, anything else is the store
// failing.
func recordError(err error) error {
	k := kindUnavailable
	switch {
	case errors.Is(err, fhirstore.ErrNotFound):
		k = kindNotFound
	case errors.Is(err, fhirstore.ErrDeleted):
		k = kindGone
	case errors.Is(err, fhirstore.ErrInvalid):
		k = kindInvalid
	case errors.Is(err, fhirstore.ErrTooLarge):
		k = kindTooLarge
	case errors.Is(err, fhirstore.ErrConflict):
		k = kindConflict
	default:
		return unavailable("the record store", err)
	}
	e := fail(k, "%s", err.Error())
	e.issue = fhirstore.IssueCode(err)
	for _, x := range fhir.Expression(err) {
		e.details = append(e.details, detail{Field: x, Message: err.Error()})
	}
	return e
}
