package gateway

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/oklog/ulid/v2"
)

// Content types the gateway answers with.
const (
	contentJSON        = "application/json"
	contentFHIR        = "application/fhir+json"
	contentNDJSON      = "application/x-ndjson"
	contentFHIRNDJSON  = "application/fhir+ndjson"
	headerRequestID    = "X-Request-Id"
	headerAPIKey       = "X-Api-Key"
	headerRateLimit    = "X-RateLimit-Limit"
	headerRateRemain   = "X-RateLimit-Remaining"
	headerRateReset    = "X-RateLimit-Reset"
	localRequestID     = "request_id"
	localKey           = "api_key"
	localQuota         = "quota"
	timestampLayoutAPI = "2006-01-02T15:04:05.000Z07:00"
)

// envelope is every /v1 JSON answer: data on success, error otherwise.
type envelope struct {
	Data  any        `json:"data,omitempty"`
	Error *errorBody `json:"error,omitempty"`
	Meta  meta       `json:"meta"`
}

type errorBody struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []detail `json:"details"`
}

type meta struct {
	RequestID string     `json:"requestId"`
	Timestamp string     `json:"timestamp"`
	Status    int        `json:"status"`
	RateLimit *rateLimit `json:"rateLimit,omitempty"`
}

type rateLimit struct {
	Limit     int `json:"limit"`
	Remaining int `json:"remaining"`
	// Reset is the Unix time, in seconds, the window restarts.
	Reset int64 `json:"reset"`
}

// setRequestID is the first middleware: every answer carries an id that
// is also in the logs.
func (g *Gateway) setRequestID(c *fiber.Ctx) error {
	g.requestID(c)
	return c.Next()
}

// requestID returns the request's id, minting it on first use (requests
// fasthttp refuses before any middleware runs get one too).
func (g *Gateway) requestID(c *fiber.Ctx) string {
	if id, ok := c.Locals(localRequestID).(string); ok {
		return id
	}
	id := "req_" + ulid.Make().String()
	c.Locals(localRequestID, id)
	c.Set(headerRequestID, id)
	return id
}

func (g *Gateway) meta(c *fiber.Ctx, status int) meta {
	m := meta{RequestID: g.requestID(c), Timestamp: g.now().UTC().Format(timestampLayoutAPI), Status: status}
	if q, ok := c.Locals(localQuota).(quota); ok {
		m.RateLimit = &rateLimit{Limit: q.limit, Remaining: q.remaining, Reset: q.reset.Unix()}
	}
	return m
}

// respond writes data in the {data, meta} envelope.
func (g *Gateway) respond(c *fiber.Ctx, status int, data any) error {
	return g.writeJSON(c, status, envelope{Data: data, Meta: g.meta(c, status)})
}

func (g *Gateway) writeJSON(c *fiber.Ctx, status int, v any) error {
	b, err := marshal(v)
	if err != nil {
		return err
	}
	return g.writeRaw(c, status, contentJSON, b)
}

func (g *Gateway) writeRaw(c *fiber.Ctx, status int, contentType string, body []byte) error {
	c.Status(status)
	c.Set(fiber.HeaderContentType, contentType)
	return c.Send(body)
}

// marshal encodes v as JSON without escaping &, < and >: signed URLs stay
// readable and copy-pasteable from a terminal.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// rfc3339 formats an optional time for JSON: nil stays null.
func rfc3339(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}
