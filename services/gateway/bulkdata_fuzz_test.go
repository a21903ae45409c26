package gateway

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/fhir"
)

// wantClientError fails unless err is nil or a 4xx apiError.
func wantClientError(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		t.Fatalf("%s: %v is not an apiError", what, err)
	}
	if s := kindInfo[ae.kind].status; s < 400 || s >= 500 {
		t.Fatalf("%s: status %d for %q", what, s, ae.message)
	}
}

// FuzzKickoffQuery: any kick-off query, at any level, leniently or not, is
// accepted or answered with a 4xx; an accepted one has only real types.
func FuzzKickoffQuery(f *testing.F) {
	for _, q := range []string{"", "_type=Patient,Observation&_since=2025-01-01T00:00:00Z",
		"_typeFilter=Observation%3Fstatus%3Dfinal,Observation%3Fcode%3Dx&_elements=id,Patient.name",
		"patient=Patient/p1,p2&includeAssociatedData=LatestProvenanceResources&_outputFormat=ndjson",
		"_since=2025-01-01T01:00:00+01:00&_until=2025&organizeOutputBy=Patient&_count=1",
		"%zz=1", "_type=&_type=,,", "_typeFilter=Patient?name:exact=Ab%20c&_typeFilter=%3F"} {
		f.Add(q, uint8(0), false)
		f.Add(q, uint8(1), true)
	}
	levels := []events.Level{events.LevelSystem, events.LevelPatient, events.LevelGroup}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, query string, level uint8, lenient bool) {
		params, err := paramsFromQuery(query)
		wantClientError(t, "paramsFromQuery", err)
		if err != nil {
			return
		}
		k, err := readKickoff(params, levels[int(level)%len(levels)], lenient, now)
		wantClientError(t, "readKickoff", err)
		if err != nil {
			return
		}
		for _, typ := range k.types {
			if !fhir.IsResourceType(typ) {
				t.Fatalf("accepted type %q from %q", typ, query)
			}
		}
		if k.since != nil && k.since.After(now) {
			t.Fatalf("accepted a future _since from %q", query)
		}
	})
}

// FuzzKickoffBody: any POST body is a Parameters resource or a 4xx.
func FuzzKickoffBody(f *testing.F) {
	for _, b := range []string{`{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Patient"},{"name":"patient","valueReference":{"reference":"Patient/1"}}]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"allowPartialManifests","valueBoolean":true},{"name":"x","valueInteger":-3}]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"_type"}]}`, `{"resourceType":"Parameters","parameter":[{"name":1}]}`,
		`{"resourceType":"Parameters","parameter":null}`, `[]`, ``, `{"resourceType":"Parameters","parameter":[{"name":"a","valueQuantity":{"value":1}}]}`} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		params, err := paramsFromBody(body)
		wantClientError(t, "paramsFromBody", err)
		if err == nil {
			_, err = readKickoff(params, events.LevelPatient, false, time.Now())
			wantClientError(t, "readKickoff", err)
		}
	})
}

// FuzzKickoffHeaders: any Accept and Prefer are accepted or a 4xx.
func FuzzKickoffHeaders(f *testing.F) {
	f.Add("application/fhir+json", "respond-async, handling=lenient")
	f.Add("application/fhir+json;q=0.9, */*", `respond-async,handling="lenient"`)
	f.Add("", "")
	f.Add("text/html;;", "handling=strict")
	f.Fuzz(func(t *testing.T, accept, prefer string) {
		_, err := checkKickoffHeaders(accept, []string{prefer})
		wantClientError(t, "checkKickoffHeaders", err)
		if err != nil && kindInfo[err.(*apiError).kind].status != http.StatusBadRequest {
			t.Fatalf("headers %q %q: not a 400", accept, prefer)
		}
	})
}
