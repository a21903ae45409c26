package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/jetexport/jetexport/internal/apikeys"
	"github.com/jetexport/jetexport/internal/signing"
)

// kind is what went wrong with a request, in the terms a client acts on.
// [Gateway.handleError] maps it to the HTTP status: the only place that
// decides one for an error.
type kind int

const (
	kindInternal kind = iota
	kindInvalid
	kindUnauthorized
	kindForbidden
	kindNotFound
	kindConflict
	kindGone
	kindTooLarge
	kindUnsupportedMedia
	kindRateLimited
	kindUnavailable
)

var kindInfo = map[kind]struct {
	status int
	code   string // default machine-readable code in the /v1 envelope
	issue  string // FHIR OperationOutcome issue type on /fhir
}{
	kindInternal:         {http.StatusInternalServerError, "internal_error", "exception"},
	kindInvalid:          {http.StatusBadRequest, "invalid_request", "invalid"},
	kindUnauthorized:     {http.StatusUnauthorized, "unauthorized", "login"},
	kindForbidden:        {http.StatusForbidden, "forbidden", "forbidden"},
	kindNotFound:         {http.StatusNotFound, "not_found", "not-found"},
	kindConflict:         {http.StatusConflict, "conflict", "conflict"},
	kindGone:             {http.StatusGone, "gone", "deleted"},
	kindTooLarge:         {http.StatusRequestEntityTooLarge, "payload_too_large", "too-costly"},
	kindUnsupportedMedia: {http.StatusUnsupportedMediaType, "unsupported_media_type", "not-supported"},
	kindRateLimited:      {http.StatusTooManyRequests, "rate_limited", "throttled"},
	kindUnavailable:      {http.StatusServiceUnavailable, "unavailable", "transient"},
}

// detail points at one problem in a request.
type detail struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// apiError is an error a handler returns to have it answered: its kind
// picks the status, code and message are what the client reads, and err
// (never shown to the client) is the cause, logged for server-side kinds.
type apiError struct {
	kind    kind
	code    string
	message string
	details []detail
	// issue overrides the kind's OperationOutcome issue code.
	issue string
	// retryAfter, when set, is sent as Retry-After instead of the rate
	// limit's window.
	retryAfter time.Duration
	err        error
}

func (e *apiError) Error() string {
	if e.err != nil {
		return e.message + ": " + e.err.Error()
	}
	return e.message
}

func (e *apiError) Unwrap() error { return e.err }

// fail returns an apiError of kind k with the default code and a message.
func fail(k kind, format string, args ...any) *apiError {
	return &apiError{kind: k, code: kindInfo[k].code, message: fmt.Sprintf(format, args...)}
}

// withCode sets a more specific machine-readable code.
func (e *apiError) withCode(code string) *apiError { e.code = code; return e }

// retryIn sets the Retry-After the answer carries.
func (e *apiError) retryIn(d time.Duration) *apiError { e.retryAfter = d; return e }

// because records the cause.
func (e *apiError) because(err error) *apiError { e.err = err; return e }

// unavailable is a failure of NATS or of a store behind the gateway: the
// client may retry.
func unavailable(what string, err error) *apiError {
	return fail(kindUnavailable, "%s is unavailable right now; retry shortly", what).because(err)
}

// classify turns any error a handler or fiber returns into an apiError.
func classify(err error) *apiError {
	var ae *apiError
	var fe *fiber.Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, apikeys.ErrRevoked):
		return fail(kindUnauthorized, "the API key was revoked; create a new one with `jetexport keys create`").withCode("revoked_api_key")
	case errors.Is(err, apikeys.ErrUnknown):
		return fail(kindUnauthorized, "the API key in x-api-key is not known").withCode("invalid_api_key")
	case errors.Is(err, signing.ErrExpired):
		return fail(kindForbidden, "the download link has expired (%v); get fresh links from GET /v1/bulk/jobs/{jobId}", err).withCode("link_expired")
	case errors.Is(err, signing.ErrBadSignature):
		return fail(kindForbidden, "the download link's signature is not valid (%v); use the links exactly as returned by GET /v1/bulk/jobs/{jobId}", err).withCode("invalid_signature")
	case errors.Is(err, context.DeadlineExceeded):
		return unavailable("the event store", err)
	case errors.As(err, &fe):
		return fromFiber(fe)
	}
	return fail(kindInternal, "internal error").because(err)
}

// fromFiber maps the errors fiber and fasthttp raise before a handler runs.
func fromFiber(fe *fiber.Error) *apiError {
	switch fe.Code {
	case fiber.StatusNotFound:
		return fail(kindNotFound, "%s", fe.Message).withCode("route_not_found")
	case fiber.StatusMethodNotAllowed:
		return fail(kindNotFound, "%s", fe.Message).withCode("method_not_allowed")
	case fiber.StatusRequestEntityTooLarge:
		return fail(kindTooLarge, "the request body is larger than this endpoint accepts")
	case fiber.StatusRequestHeaderFieldsTooLarge:
		return fail(kindInvalid, "the request headers are too large").withCode("headers_too_large")
	case fiber.StatusRequestTimeout:
		return fail(kindInvalid, "the request was not received in time").withCode("request_timeout")
	}
	if fe.Code >= 400 && fe.Code < 500 {
		return fail(kindInvalid, "%s", fe.Message)
	}
	return fail(kindInternal, "internal error").because(fe)
}

// handleError is the fiber ErrorHandler: every error answer is written
// here, as the /v1 envelope or, under /fhir, as an OperationOutcome.
func (g *Gateway) handleError(c *fiber.Ctx, err error) error {
	e := classify(err)
	info := kindInfo[e.kind]
	log := g.log.Debug()
	if info.status >= 500 {
		log = g.log.Error()
	}
	if stack, ok := c.Locals(localStack).([]byte); ok {
		log = log.Bytes("stack", stack)
	}
	log.Err(e.err).Str("request_id", g.requestID(c)).Str("method", c.Method()).
		Str("path", c.Path()).Int("status", info.status).Msg(e.message)
	if e.retryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int((e.retryAfter+time.Second-1)/time.Second)))
	} else if e.kind == kindRateLimited {
		if q, ok := c.Locals(localQuota).(quota); ok {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(q.retryAfter(g.now())))
		}
	}
	if isFHIRPath(c.Path()) {
		issue := info.issue
		if e.issue != "" {
			issue = e.issue
		}
		return g.writeRaw(c, info.status, contentFHIR, operationOutcome(issue, e.message, e.details))
	}
	if e.details == nil {
		e.details = []detail{}
	}
	return g.writeJSON(c, info.status, envelope{
		Error: &errorBody{Code: e.code, Message: e.message, Details: e.details},
		Meta:  g.meta(c, info.status),
	})
}

func isFHIRPath(p string) bool { return p == "/fhir" || strings.HasPrefix(p, "/fhir/") }
