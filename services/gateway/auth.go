package gateway

import (
	"context"
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/jetexport/jetexport/internal/apikeys"
)

// authenticate is the middleware of keyed routes: it checks x-api-key (or,
// under /fhir, a SMART bearer token: [Gateway.authenticateBearer]), counts
// the request against the key's rate limit and leaves the key in the
// context for the handler ([keyOf], [callerOf]).
func (g *Gateway) authenticate(c *fiber.Ctx) error {
	if token, ok := bearerToken(c); ok && isFHIRPath(c.Path()) {
		return g.authenticateBearer(c, token)
	}
	plain := c.Get(headerAPIKey)
	if plain == "" {
		if isFHIRPath(c.Path()) {
			return missingCredentials(c, g.tokenURL(c))
		}
		return fail(kindUnauthorized, "the x-api-key header is missing; send your clk_test_... or clk_live_... key").withCode("missing_api_key")
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), readTimeout)
	defer cancel()
	key, err := g.keys.Authenticate(ctx, plain)
	if err != nil {
		if errors.Is(err, apikeys.ErrUnknown) || errors.Is(err, apikeys.ErrRevoked) {
			return err
		}
		return unavailable("the API key store", err)
	}
	c.Locals(localKey, key)
	c.Locals(localCaller, caller{Tenant: key.Tenant, ID: key.ID})
	return g.countRequest(c, key.ID)
}

// countRequest counts a request of the key or client id against the rate
// limit, sets the rate-limit headers and runs the handler if allowed.
func (g *Gateway) countRequest(c *fiber.Ctx, id string) error {
	q := g.limiter.take(id, g.now())
	c.Locals(localQuota, q)
	c.Set(headerRateLimit, strconv.Itoa(q.limit))
	c.Set(headerRateRemain, strconv.Itoa(q.remaining))
	c.Set(headerRateReset, strconv.FormatInt(q.reset.Unix(), 10))
	if !q.allowed {
		return fail(kindRateLimited, "rate limit of %d requests per %s exceeded; retry after the reset time", q.limit, g.cfg.RateWindow)
	}
	return c.Next()
}

// keyOf returns the API key [Gateway.authenticate] accepted.
func keyOf(c *fiber.Ctx) apikeys.Key {
	k, _ := c.Locals(localKey).(apikeys.Key)
	return k
}
