package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strings"
	"time"

	"github.com/jetexport/jetexport/internal/fhir"
)

// exportParams is a validated POST /v1/bulk/export body.
type exportParams struct {
	ResourceTypes []string
	Since         *time.Time
	WebhookURL    string
}

// exportBody is the wire shape of the request. Each field is decoded on its
// own so that every problem is reported at once; unknown fields are ignored.
type exportBody struct {
	ResourceTypes json.RawMessage `json:"resourceTypes"`
	Since         json.RawMessage `json:"since"`
	WebhookURL    json.RawMessage `json:"webhookUrl"`
}

const maxWebhookURL = 2048

// decodeExportRequest parses and validates an export request body. Its
// error is an *apiError of kind invalid whose details name each field at
// fault.
func decodeExportRequest(body []byte) (exportParams, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return exportParams{}, fail(kindInvalid, `the request body is empty; send {"resourceTypes": ["Patient", ...]}`).withCode("invalid_json")
	}
	var raw exportBody
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field == "" {
			return exportParams{}, fail(kindInvalid, `the request body must be a JSON object such as {"resourceTypes": ["Patient"]}`).withCode("invalid_json")
		}
		return exportParams{}, fail(kindInvalid, "the request body is not valid JSON: %s", jsonProblem(err)).withCode("invalid_json")
	}
	var p exportParams
	var details []detail
	p.ResourceTypes, details = decodeResourceTypes(raw.ResourceTypes, details)
	p.Since, details = decodeSince(raw.Since, details)
	p.WebhookURL, details = decodeWebhookURL(raw.WebhookURL, details)
	if len(details) > 0 {
		var msgs []string
		for _, d := range details {
			if !strings.Contains(d.Field, "[") { // per-element details are summed up by their field's
				msgs = append(msgs, d.Message)
			}
		}
		return exportParams{}, &apiError{kind: kindInvalid, code: "invalid_request",
			message: strings.Join(msgs, "; "), details: details}
	}
	return p, nil
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

func decodeResourceTypes(raw json.RawMessage, details []detail) ([]string, []detail) {
	if isNull(raw) {
		return nil, append(details, detail{"resourceTypes", `resourceTypes is required: a non-empty array of FHIR R4 resource types such as ["Patient", "Observation"]`})
	}
	var types []string
	if err := json.Unmarshal(raw, &types); err != nil {
		return nil, append(details, detail{"resourceTypes", "resourceTypes must be an array of FHIR R4 resource type names (strings)"})
	}
	if len(types) == 0 {
		return nil, append(details, detail{"resourceTypes", "resourceTypes must not be empty: name at least one FHIR R4 resource type"})
	}
	seen := make(map[string]bool, len(types))
	var out, unknown []string
	var perName []detail
	for i, t := range types {
		if !fhir.IsResourceType(t) {
			unknown = append(unknown, fmt.Sprintf("%q", t)+suggestion(t))
			perName = append(perName, detail{fmt.Sprintf("resourceTypes[%d]", i), unknownTypeMessage(t)})
			continue
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if len(unknown) > 0 {
		details = append(details, detail{"resourceTypes", "unknown FHIR R4 resource type(s): " + strings.Join(unknown, ", ")})
		return nil, append(details, perName...)
	}
	return out, details
}

// unknownTypeMessage says why name is not a type.
func unknownTypeMessage(name string) string {
	return fmt.Sprintf("%q is not a FHIR R4 resource type%s", name, suggestion(name))
}

// suggestion names the type that name differs from only by case.
func suggestion(name string) string {
	for _, t := range fhir.ResourceTypes() {
		if strings.EqualFold(t, name) {
			return fmt.Sprintf(" (did you mean %q?)", t)
		}
	}
	return ""
}

func decodeSince(raw json.RawMessage, details []detail) (*time.Time, []detail) {
	if isNull(raw) {
		return nil, details
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, append(details, detail{"since", "since must be a string holding an ISO 8601 date-time such as 2025-01-01T00:00:00Z"})
	}
	t, err := fhir.ParseInstant(s)
	if err != nil {
		return nil, append(details, detail{"since", "since: " + err.Error()})
	}
	t = t.UTC()
	return &t, details
}

func decodeWebhookURL(raw json.RawMessage, details []detail) (string, []detail) {
	if isNull(raw) {
		return "", details
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", append(details, detail{"webhookUrl", "webhookUrl must be a string holding an absolute http(s) URL"})
	}
	if s == "" {
		return "", details
	}
	u, err := url.Parse(s)
	switch {
	case len(s) > maxWebhookURL:
		return "", append(details, detail{"webhookUrl", fmt.Sprintf("webhookUrl is longer than %d characters", maxWebhookURL)})
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "", append(details, detail{"webhookUrl", fmt.Sprintf("webhookUrl %q is not an absolute http(s) URL", truncate(s, 64))})
	case u.User != nil:
		return "", append(details, detail{"webhookUrl", "webhookUrl must not carry credentials; webhooks are signed instead"})
	}
	return s, details
}

// jsonProblem describes a decoding error without Go type names.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("%s (at byte %d)", syn.Error(), syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("%s has the wrong type (at byte %d)", typ.Field, typ.Offset)
	}
	return err.Error()
}

// requireContentType answers 415 unless the request's media type is one
// of allowed.
func requireContentType(header string, allowed ...string) error {
	mt, _, err := mime.ParseMediaType(header)
	if err == nil {
		for _, a := range allowed {
			if strings.EqualFold(mt, a) {
				return nil
			}
		}
	}
	if header == "" {
		header = "none"
	}
	return fail(kindUnsupportedMedia, "Content-Type %s is not accepted here; send %s", truncate(header, 64), strings.Join(allowed, " or "))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
