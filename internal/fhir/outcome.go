package fhir

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Issue severities (value set issue-severity).
const (
	SeverityFatal       = "fatal"
	SeverityError       = "error"
	SeverityWarning     = "warning"
	SeverityInformation = "information"
)

// Issue codes (value set issue-type) that jetexport uses.
const (
	IssueInvalid       = "invalid"
	IssueStructure     = "structure"
	IssueRequired      = "required"
	IssueValue         = "value"
	IssueSecurity      = "security"
	IssueLogin         = "login"
	IssueForbidden     = "forbidden"
	IssueProcessing    = "processing"
	IssueNotSupported  = "not-supported"
	IssueDuplicate     = "duplicate"
	IssueNotFound      = "not-found"
	IssueDeleted       = "deleted"
	IssueTooLong       = "too-long"
	IssueTooCostly     = "too-costly"
	IssueConflict      = "conflict"
	IssueTransient     = "transient"
	IssueException     = "exception"
	IssueTimeout       = "timeout"
	IssueThrottled     = "throttled"
	IssueInformational = "informational"
)

// Issue is one issue of an OperationOutcome.
type Issue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

type operationOutcome struct {
	ResourceType string  `json:"resourceType"`
	Issue        []Issue `json:"issue"`
}

// OperationOutcome returns the JSON of an OperationOutcome with one issue:
// severity (see SeverityError...), code (see IssueInvalid...), the
// diagnostics a person reads, and optionally the FHIRPath expressions of the
// elements at fault (for example "Bundle.entry[3].request.url").
func OperationOutcome(severity, code, diagnostics string, expression ...string) []byte {
	return Outcome(Issue{Severity: severity, Code: code, Diagnostics: diagnostics, Expression: expression})
}

// Outcome returns the JSON of an OperationOutcome with the given issues.
func Outcome(issues ...Issue) []byte {
	if issues == nil {
		issues = []Issue{}
	}
	b, _ := json.Marshal(operationOutcome{ResourceType: "OperationOutcome", Issue: issues})
	return b
}

// IssueCode returns the issue code that describes err, an error of this
// package: "structure" for a body that is not JSON or not shaped as FHIR,
// "required" for a missing resourceType, "not-supported" for an unknown type
// or an unsupported request, "value" for a bad id or date, "invalid" for
// anything else.
func IssueCode(err error) string {
	switch {
	case errors.Is(err, ErrNotJSON), errors.Is(err, ErrNotObject), errors.Is(err, ErrStructure),
		errors.Is(err, ErrNotBundle), errors.Is(err, ErrBundleType):
		return IssueStructure
	case errors.Is(err, ErrMissingType):
		return IssueRequired
	case errors.Is(err, ErrUnknownType), errors.Is(err, ErrNotSupported):
		return IssueNotSupported
	case errors.Is(err, ErrBadID), errors.Is(err, ErrInstant), errors.Is(err, ErrMismatch):
		return IssueValue
	}
	return IssueInvalid
}

// Expression returns the FHIRPath of the element err is about, when it is
// about one entry of a Bundle ("Bundle.entry[3]"), or nil.
func Expression(err error) []string {
	var ee *EntryError
	if errors.As(err, &ee) {
		return []string{"Bundle.entry[" + strconv.Itoa(ee.Index) + "]"}
	}
	return nil
}

// ErrorOutcome returns the OperationOutcome JSON for an error of this
// package (and any error wrapping one): severity error, the code from
// [IssueCode], err's message as diagnostics.
func ErrorOutcome(err error) []byte {
	return OperationOutcome(SeverityError, IssueCode(err), err.Error(), Expression(err)...)
}

// EntryResponse is the outcome of one entry of a batch or transaction, in
// Bundle.entry.response of the response Bundle.
type EntryResponse struct {
	Status       string          `json:"status"` // "201 Created", "200 OK", "204 No Content", "400 Bad Request"...
	Location     string          `json:"location,omitempty"`
	Etag         string          `json:"etag,omitempty"`
	LastModified string          `json:"lastModified,omitempty"`
	Outcome      json.RawMessage `json:"outcome,omitempty"`
}

// Written fills an EntryResponse for a record stored as version versionID at
// lastUpdated: status, location Type/id/_history/v, weak etag, lastModified.
func Written(created bool, typ, id, versionID string, lastUpdated time.Time) EntryResponse {
	status := "200 OK"
	if created {
		status = "201 Created"
	}
	return EntryResponse{
		Status:       status,
		Location:     typ + "/" + id + "/_history/" + versionID,
		Etag:         `W/"` + versionID + `"`,
		LastModified: lastUpdated.UTC().Format(LastUpdatedLayout),
	}
}

type responseEntry struct {
	Response EntryResponse `json:"response"`
}

type responseBundle struct {
	ResourceType string          `json:"resourceType"`
	Type         string          `json:"type"`
	Entry        []responseEntry `json:"entry"`
}

// ResponseBundle returns the JSON of the Bundle answering a batch or
// transaction of the type requestType, with one entry per request entry, in
// the same order.
func ResponseBundle(requestType string, entries []EntryResponse) []byte {
	rb := responseBundle{ResourceType: "Bundle", Type: strings.TrimSuffix(requestType, "-response") + "-response",
		Entry: make([]responseEntry, len(entries))}
	for i, e := range entries {
		rb.Entry[i].Response = e
	}
	b, _ := json.Marshal(rb)
	return b
}
