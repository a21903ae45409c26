package gateway

import (
	"context"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/apikeys"
	"github.com/jetexport/jetexport/internal/smart"
)

// tokenPath is the SMART token endpoint.
const tokenPath = "/auth/token"

const localCaller = "caller"

// caller is who made a request, whichever door credential it used: an API
// key or a SMART access token, both resolved to a tenant.
type caller struct {
	Tenant events.Tenant
	// ID is the API key id or the SMART client id: the job's requester.
	ID string
	// Bearer is true for a SMART access token, whose Scopes say what it
	// may read; an API key reads every type.
	Bearer bool
	Scopes smart.Scopes
}

// callerOf returns the caller [Gateway.authenticate] accepted.
func callerOf(c *fiber.Ctx) caller {
	cl, _ := c.Locals(localCaller).(caller)
	return cl
}

// covers returns what the caller may read of type typ.
func (cl caller) covers(typ string) smart.Coverage {
	if !cl.Bearer {
		return smart.Coverage{Covered: true}
	}
	return cl.Scopes.Covers(typ)
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(c *fiber.Ctx) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(c.Get(fiber.HeaderAuthorization)), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// authenticateBearer accepts a SMART access token in place of an API key:
// the handler sees the token's tenant as if a key of that tenant had
// called ([keyOf] gives the client id as the key id), and its scopes in
// [callerOf].
func (g *Gateway) authenticateBearer(c *fiber.Ctx, token string) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), readTimeout)
	defer cancel()
	grant, err := g.smart.Authenticate(ctx, token)
	switch {
	case errors.Is(err, smart.ErrExpiredToken):
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer error="invalid_token", error_description="the access token expired"`)
		return fail(kindUnauthorized, "the access token has expired; get a new one from %s", g.tokenURL(c)).withCode("expired_token")
	case errors.Is(err, smart.ErrInvalidToken):
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer error="invalid_token"`)
		return fail(kindUnauthorized, "the bearer token is not an access token of this server; get one from %s", g.tokenURL(c)).withCode("invalid_token")
	case err != nil:
		return unavailable("the token store", err)
	}
	t := grant.Tenant
	c.Locals(localKey, apikeys.Key{ID: grant.ClientID, Customer: t.Customer(), Mode: t.Mode(), Tenant: t})
	c.Locals(localCaller, caller{Tenant: t, ID: grant.ClientID, Bearer: true, Scopes: grant.Scopes})
	return g.countRequest(c, grant.ClientID)
}

// missingCredentials answers a /fhir request that carries neither a
// bearer token nor an API key.
func missingCredentials(c *fiber.Ctx, tokenURL string) error {
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="jetexport"`)
	return fail(kindUnauthorized, "no credentials: send Authorization: Bearer <access token from %s> or the tenant's x-api-key header", tokenURL).
		withCode("missing_credentials")
}

// tokenURL is the absolute URL of the token endpoint: the aud every client
// assertion must carry.
func (g *Gateway) tokenURL(c *fiber.Ctx) string { return g.baseURL(c) + tokenPath }

// checkRecordScope guards the FHIR record endpoints: an access token only
// reads, and only types its scopes cover whole; writes need the tenant's
// API key.
func (g *Gateway) checkRecordScope(c *fiber.Ctx) error {
	cl := callerOf(c)
	if !cl.Bearer {
		return c.Next()
	}
	if c.Method() != fiber.MethodGet {
		return fail(kindForbidden, "a SMART access token grants read access only; write records with the tenant's x-api-key").withCode("insufficient_scope")
	}
	typ, _, _ := strings.Cut(strings.TrimPrefix(c.Path(), "/fhir/"), "/")
	if cov := cl.covers(typ); !cov.Covered || cov.Queries != nil {
		return fail(kindForbidden, "the access token's scopes (%s) do not grant reading every %s; ask for system/%s.read", cl.Scopes, truncate(typ, 64), truncate(typ, 64)).
			withCode("insufficient_scope")
	}
	return c.Next()
}
