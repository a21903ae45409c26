package fhir

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestOperationOutcome(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"one issue", OperationOutcome(SeverityError, IssueNotFound, `Patient/x is not known`),
			`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","diagnostics":"Patient/x is not known"}]}`},
		{"expression", OperationOutcome(SeverityError, IssueValue, "bad", "Bundle.entry[2]"),
			`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"value","diagnostics":"bad","expression":["Bundle.entry[2]"]}]}`},
		{"no issues", Outcome(), `{"resourceType":"OperationOutcome","issue":[]}`},
		{"from entry error", ErrorOutcome(&EntryError{Index: 4, Err: fmt.Errorf("%w: x", ErrUnknownType)}),
			`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-supported","diagnostics":"Bundle.entry[4]: unknown resource type: x","expression":["Bundle.entry[4]"]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, string(tt.got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestResponseBundle(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	got := ResponseBundle(BundleBatch, []EntryResponse{
		Written(true, "Patient", "p", "1", at),
		Written(false, "Patient", "q", "4", at),
		{Status: "204 No Content"},
		{Status: "400 Bad Request", Outcome: OperationOutcome(SeverityError, IssueInvalid, "x")},
	})
	want := `{"resourceType":"Bundle","type":"batch-response","entry":[` +
		`{"response":{"status":"201 Created","location":"Patient/p/_history/1","etag":"W/\"1\"","lastModified":"2025-01-01T00:00:00.000Z"}},` +
		`{"response":{"status":"200 OK","location":"Patient/q/_history/4","etag":"W/\"4\"","lastModified":"2025-01-01T00:00:00.000Z"}},` +
		`{"response":{"status":"204 No Content"}},` +
		`{"response":{"status":"400 Bad Request","outcome":{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"x"}]}}}]}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := ResponseBundle(BundleTransaction, nil); string(got) != `{"resourceType":"Bundle","type":"transaction-response","entry":[]}` {
		t.Errorf("empty transaction response = %s", got)
	}
}
