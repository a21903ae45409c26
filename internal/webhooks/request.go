package webhooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jetexport/jetexport/events"
)

// Errors callers branch on; the gateway maps them to HTTP statuses.
var (
	// ErrInvalid is bad input: answer 400 with the error's message (an
	// [*InputError] lists each problem with its field).
	ErrInvalid = errors.New("invalid webhook request")
	// ErrNotFound means no such subscription for this tenant: answer 404.
	ErrNotFound = errors.New("webhook not found")
	// ErrLimit means the tenant has as many subscriptions as allowed: answer 409.
	ErrLimit = errors.New("too many webhooks")
)

// The event types a subscription can ask for, one per terminal job event.
const (
	EventCompleted = "export.completed"
	EventFailed    = "export.failed"
	EventCancelled = "export.cancelled"
	EventExpired   = "export.expired"
)

// EventTypes lists every event type, in the order of a job's life.
func EventTypes() []string {
	return []string{EventCompleted, EventFailed, EventCancelled, EventExpired}
}

// EventType returns the webhook event type of a job event kind, and false
// for the kinds no webhook is sent for.
func EventType(k events.Kind) (string, bool) {
	switch k {
	case events.KindCompleted:
		return EventCompleted, true
	case events.KindFailed:
		return EventFailed, true
	case events.KindCancelled:
		return EventCancelled, true
	case events.KindExpired:
		return EventExpired, true
	}
	return "", false
}

// Limits on the fields of a request.
const (
	MaxDescription = 256
	// MaxBodyBytes caps the JSON body of a create or rotate request.
	MaxBodyBytes = 16 << 10
	// MaxGracePeriod caps how long a rotated-out secret keeps signing.
	MaxGracePeriod = 7 * 24 * time.Hour
	// DefaultGracePeriod is how long a rotated-out secret keeps signing
	// when the rotate request does not say.
	DefaultGracePeriod = 24 * time.Hour
)

// Problem is one thing wrong with a request, by JSON field.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// InputError lists what is wrong with a request. It matches [ErrInvalid]
// with errors.Is (and [ErrBlocked] when the URL's address is refused); its
// Problems can go in the error envelope's details.
type InputError struct {
	Problems []Problem
	blocked  bool
}

func invalid(ps ...Problem) *InputError { return &InputError{Problems: ps} }

// Error joins the problems: "url: must use https...; events: ...".
func (e *InputError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return strings.Join(parts, "; ")
}

// Is reports whether target is ErrInvalid, or ErrBlocked for a refused address.
func (e *InputError) Is(target error) bool {
	return target == ErrInvalid || (e.blocked && target == ErrBlocked)
}

// CreateRequest is the body of POST /v1/webhooks.
type CreateRequest struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
}

// RotateRequest is the optional body of POST /v1/webhooks/{id}/rotate.
type RotateRequest struct {
	// GracePeriodSeconds is how long the old secret keeps signing
	// alongside the new one; nil means [DefaultGracePeriod], 0 retires it
	// at once.
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds"`
}

// ParseCreate decodes and checks the fields of a create request body that
// need no lookup: url present, events known and not empty, description
// short. The URL's address policy is applied by [Store.Create].
func ParseCreate(body []byte) (CreateRequest, error) {
	var req CreateRequest
	if err := decodeStrict(body, &req); err != nil {
		return CreateRequest{}, err
	}
	var ps []Problem
	if strings.TrimSpace(req.URL) == "" {
		ps = append(ps, Problem{"url", "is required: the https URL to POST deliveries to"})
	}
	ps = append(ps, checkEvents(req.Events)...)
	if !utf8.ValidString(req.Description) {
		ps = append(ps, Problem{"description", "must be UTF-8 text"})
	} else if n := utf8.RuneCountInString(req.Description); n > MaxDescription {
		ps = append(ps, Problem{"description", fmt.Sprintf("is %d characters; at most %d", n, MaxDescription)})
	}
	if len(ps) > 0 {
		return CreateRequest{}, invalid(ps...)
	}
	req.URL = strings.TrimSpace(req.URL)
	return req, nil
}

func checkEvents(evs []string) []Problem {
	if len(evs) == 0 {
		return []Problem{{"events", "is required: a list of one or more of " + strings.Join(EventTypes(), ", ")}}
	}
	var ps []Problem
	for _, e := range evs {
		if !slices.Contains(EventTypes(), e) {
			ps = append(ps, Problem{"events", fmt.Sprintf("unknown event %q; want one or more of %s",
				e, strings.Join(EventTypes(), ", "))})
		}
	}
	return ps
}

// ParseRotate decodes a rotate request body; an empty body asks for the
// default grace period.
func ParseRotate(body []byte) (RotateRequest, error) {
	var req RotateRequest
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}
	if err := decodeStrict(body, &req); err != nil {
		return RotateRequest{}, err
	}
	if g := req.GracePeriodSeconds; g != nil && (*g < 0 || *g > int64(MaxGracePeriod/time.Second)) {
		return RotateRequest{}, invalid(Problem{"gracePeriodSeconds",
			fmt.Sprintf("%d is out of range: 0 to %d (7 days)", *g, int64(MaxGracePeriod/time.Second))})
	}
	return req, nil
}

// grace returns the grace period the request asks for.
func (r RotateRequest) grace() time.Duration {
	if r.GracePeriodSeconds == nil {
		return DefaultGracePeriod
	}
	return time.Duration(*r.GracePeriodSeconds) * time.Second
}

// decodeStrict decodes one JSON object into v, refusing unknown fields (a
// misspelt "event" would otherwise be ignored silently) and trailing data.
func decodeStrict(body []byte, v any) error {
	if len(body) > MaxBodyBytes {
		return invalid(Problem{"body", fmt.Sprintf("is %d bytes; at most %d", len(body), MaxBodyBytes)})
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid(Problem{"body", jsonProblem(err)})
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid(Problem{"body", "must be a single JSON object"})
	}
	return nil
}

func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return "is empty; send a JSON object"
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return "must be a JSON object"
		}
		return fmt.Sprintf("field %q must be a JSON %s, not %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("is not valid JSON (at byte %d): %v", syntaxErr.Offset, err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "has an " + strings.TrimPrefix(err.Error(), "json: ") + "; the fields are url, events, description (and gracePeriodSeconds for a rotation)"
	}
	return "is not valid JSON: " + err.Error()
}

func jsonKind(goKind string) string {
	switch goKind {
	case "slice":
		return "array"
	case "int64", "int":
		return "integer"
	case "struct", "ptr":
		return "object"
	}
	return goKind
}
