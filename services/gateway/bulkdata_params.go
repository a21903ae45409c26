package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// rawParam is one kick-off parameter as sent: a query parameter or a
// Parameters.parameter entry, its value as text.
type rawParam struct {
	name, value string
}

// maxParams bounds how many parameters one kick-off may carry.
const maxParams = 1000

// paramsFromQuery reads the kick-off parameters of a GET.
func paramsFromQuery(raw string) ([]rawParam, error) {
	var out []rawParam
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		if len(out) == maxParams {
			return nil, fail(kindInvalid, "more than %d query parameters", maxParams).withCode("invalid_parameters")
		}
		k, v, _ := strings.Cut(part, "=")
		name, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, fail(kindInvalid, "the query parameter %q is not URL-encoded properly", truncate(part, 64)).withCode("invalid_parameters")
		}
		out = append(out, rawParam{name: name, value: value})
	}
	return out, nil
}

// parametersBody is the FHIR Parameters resource of a POST kick-off.
type parametersBody struct {
	ResourceType string                       `json:"resourceType"`
	Parameter    []map[string]json.RawMessage `json:"parameter"`
}

// paramsFromBody reads the kick-off parameters of a POST: a Parameters
// resource whose entries carry a name and one value[x] (a primitive, or a
// Reference for patient).
func paramsFromBody(body []byte) ([]rawParam, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fail(kindInvalid, `the body is empty; POST a Parameters resource such as {"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Patient"}]}, or use GET with query parameters`).
			withCode("invalid_parameters")
	}
	var p parametersBody
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fail(kindInvalid, "the body is not a Parameters resource: %s", jsonProblem(err)).withCode("invalid_parameters")
	}
	if p.ResourceType != "Parameters" {
		return nil, fail(kindInvalid, "the body's resourceType is %q; POST a Parameters resource", truncate(p.ResourceType, 64)).withCode("invalid_parameters")
	}
	if len(p.Parameter) > maxParams {
		return nil, fail(kindInvalid, "more than %d parameters", maxParams).withCode("invalid_parameters")
	}
	out := make([]rawParam, 0, len(p.Parameter))
	var details []detail
	for i, entry := range p.Parameter {
		field := fmt.Sprintf("Parameters.parameter[%d]", i)
		rp, err := parameterValue(entry)
		if err != nil {
			details = append(details, detail{Field: field, Message: field + ": " + err.Error()})
			continue
		}
		out = append(out, rp)
	}
	if len(details) > 0 {
		return nil, invalidParams(details)
	}
	return out, nil
}

// parameterValue reads one Parameters.parameter entry.
func parameterValue(entry map[string]json.RawMessage) (rawParam, error) {
	var rp rawParam
	if err := json.Unmarshal(entry["name"], &rp.name); err != nil || rp.name == "" {
		return rp, fmt.Errorf("name is required and must be a string")
	}
	var valueKey string
	for k := range entry {
		switch {
		case k == "resource" || k == "part":
			return rp, fmt.Errorf("%s: %s is not supported; give the value as value[x]", rp.name, k)
		case strings.HasPrefix(k, "value"):
			if valueKey != "" {
				return rp, fmt.Errorf("%s has both %s and %s; give one value[x]", rp.name, valueKey, k)
			}
			valueKey = k
		}
	}
	if valueKey == "" {
		return rp, fmt.Errorf("%s has no value[x] (such as valueString)", rp.name)
	}
	raw := bytes.TrimSpace(entry[valueKey])
	var s string
	var b bool
	var ref struct {
		Reference string `json:"reference"`
	}
	switch {
	case json.Unmarshal(raw, &s) == nil:
		rp.value = s
	case json.Unmarshal(raw, &b) == nil:
		rp.value = strconv.FormatBool(b)
	case len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9'):
		rp.value = string(raw)
	case json.Unmarshal(raw, &ref) == nil && ref.Reference != "":
		rp.value = ref.Reference
	default:
		return rp, fmt.Errorf("%s: %s must be a string, boolean, number or a Reference with a reference", rp.name, valueKey)
	}
	return rp, nil
}

// invalidParams is a 400 listing every problem with the parameters.
func invalidParams(details []detail) *apiError {
	msgs := make([]string, len(details))
	for i, d := range details {
		msgs[i] = d.Message
	}
	return &apiError{kind: kindInvalid, code: "invalid_parameters", message: strings.Join(msgs, "; "), details: details}
}

// splitList splits a comma list, trimming items and dropping empty ones.
func splitList(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
