package gateway

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/jetexport/jetexport/internal/smart"
)

const (
	contentForm = "application/x-www-form-urlencoded"
	// tokenBodyLimit bounds a token request: a form with one assertion.
	tokenBodyLimit = 64 << 10
)

// token handles POST /auth/token, the SMART Backend Services token
// endpoint: a client_credentials grant authenticated by a private_key_jwt
// assertion. Answers are OAuth 2.0 JSON, errors included, never cached.
func (g *Gateway) token(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderPragma, "no-cache")
	form, oerr := readTokenForm(c)
	if oerr != nil {
		return g.oauthError(c, oerr)
	}
	req := smart.TokenRequest{GrantType: form.Get("grant_type"), AssertionType: form.Get("client_assertion_type"),
		Assertion: form.Get("client_assertion"), Scope: form.Get("scope"), TokenURL: g.tokenURL(c)}
	ctx, cancel := context.WithTimeout(c.UserContext(), readTimeout+max(g.cfg.FHIR.SMART.JWKSTimeout, smart.DefaultJWKSTimeout))
	defer cancel()
	tok, err := g.smart.Issue(ctx, req)
	var oe *smart.Error
	if errors.As(err, &oe) {
		return g.oauthError(c, oe)
	}
	if err != nil {
		g.log.Error().Err(err).Str("request_id", g.requestID(c)).Msg("token request failed")
		return g.writeJSON(c, fiber.StatusServiceUnavailable, &smart.Error{Code: "temporarily_unavailable",
			Description: "the token store is unavailable right now; retry shortly"})
	}
	g.log.Info().Str("request_id", g.requestID(c)).Str("scope", tok.Scope).Msg("access token issued")
	return g.writeJSON(c, fiber.StatusOK, tok)
}

// readTokenForm reads the form of a token request; a parameter given twice
// is an error (RFC 6749 section 3.2).
func readTokenForm(c *fiber.Ctx) (url.Values, *smart.Error) {
	if err := requireContentType(c.Get(fiber.HeaderContentType), contentForm); err != nil {
		return nil, &smart.Error{Code: smart.CodeInvalidRequest, Description: "send the token request as " + contentForm}
	}
	body, err := requestBody(c, tokenBodyLimit)
	if err != nil {
		return nil, &smart.Error{Code: smart.CodeInvalidRequest, Description: err.Error()}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, &smart.Error{Code: smart.CodeInvalidRequest, Description: "the form is not URL-encoded properly"}
	}
	var repeated []string
	for k, v := range form {
		if len(v) > 1 {
			repeated = append(repeated, k)
		}
	}
	if len(repeated) > 0 {
		return nil, &smart.Error{Code: smart.CodeInvalidRequest, Description: "parameters given more than once: " + truncate(strings.Join(repeated, ", "), 200)}
	}
	return form, nil
}

// oauthError answers a token request with an OAuth 2.0 error.
func (g *Gateway) oauthError(c *fiber.Ctx, e *smart.Error) error {
	g.log.Debug().Str("request_id", g.requestID(c)).Str("error", e.Code).Msg(e.Description)
	return g.writeJSON(c, e.Status(), e)
}
