package gateway_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/fhir"
	"github.com/jetexport/jetexport/services/gateway"
)

func TestKickoff(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{RateLimit: 10000, MaxActiveExports: 1000})
	plain, key := h.key("acme", events.ModeTest)
	group := `{"resourceType":"Group","type":"person","actual":true,"member":[{"entity":{"reference":"Patient/p1"}},{"entity":{"reference":"Patient/p2"}}]}`
	if r := h.do(request{method: "PUT", path: "/fhir/Group/g1", key: plain, contentType: "application/fhir+json", body: []byte(group)}); r.status != 201 {
		t.Fatalf("put group: %d %s", r.status, r.body)
	}
	since := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	all, compartment := fhir.ResourceTypes(), fhir.PatientCompartmentTypes()
	tests := []struct {
		name   string
		method string // GET (default) or POST
		path   string
		body   string
		header map[string]string
		// want is checked against the published event (202 answers).
		want func(events.ExportRequested) string
		// status, issue and mention describe an error answer.
		status       int
		issue        string
		mention      string
		wantWarnings int
	}{
		{name: "system, every type", path: "/fhir/$export", want: func(e events.ExportRequested) string {
			return cmp.Diff(events.ExportRequested{ResourceTypes: all, Level: events.LevelSystem, OutputFormat: "application/fhir+ndjson",
				Door: "fhir", RequestURL: h.url + "/fhir/$export", Requester: key.ID}, e)
		}},
		{name: "encoded $ keeps the request URL exact", path: "/fhir/%24export?_type=Patient", want: func(e events.ExportRequested) string {
			return cmp.Diff(h.url+"/fhir/%24export?_type=Patient", e.RequestURL)
		}},
		{name: "_type comma list", path: "/fhir/$export?_type=Patient,Observation", want: types("Patient", "Observation")},
		{name: "_type repeated", path: "/fhir/$export?_type=Patient&_type=Observation&_type=Patient", want: types("Patient", "Observation")},
		{name: "_type unknown", path: "/fhir/$export?_type=Patient,Patients", status: 400, issue: "invalid", mention: `"Patients" is not a FHIR R4 resource type`},
		{name: "_type lower case", path: "/fhir/$export?_type=patient", status: 400, mention: `did you mean "Patient"`},
		{name: "_outputFormat fhir+ndjson", path: "/fhir/$export?_outputFormat=application%2Ffhir%2Bndjson", want: types(all...)},
		{name: "_outputFormat unencoded plus", path: "/fhir/$export?_outputFormat=application/fhir+ndjson", want: types(all...)},
		{name: "_outputFormat ndjson", path: "/fhir/$export?_outputFormat=ndjson", want: types(all...)},
		{name: "_outputFormat application/ndjson", path: "/fhir/$export?_outputFormat=application/ndjson", want: types(all...)},
		{name: "_outputFormat csv", path: "/fhir/$export?_outputFormat=text/csv", status: 400, mention: "_outputFormat"},
		{name: "_since and _until", path: "/fhir/$export?_since=2025-01-01T00:00:00Z&_until=2025-06-01T12:00:00%2B02:00", want: func(e events.ExportRequested) string {
			return cmp.Diff([]*time.Time{&since, &until}, []*time.Time{e.Since, e.Until})
		}},
		{name: "_since unencoded zone", path: "/fhir/$export?_since=2025-01-01T01:00:00+01:00", want: func(e events.ExportRequested) string {
			return cmp.Diff(&since, e.Since)
		}},
		{name: "_since invalid", path: "/fhir/$export?_since=yesterday", status: 400, mention: "_since"},
		{name: "_since in the future", path: "/fhir/$export?_since=2999-01-01T00:00:00Z", status: 400, mention: "future"},
		{name: "_since twice", path: "/fhir/$export?_since=2025-01-01&_since=2025-02-01", status: 400, mention: "more than once"},
		{name: "_until before _since", path: "/fhir/$export?_since=2025-02-01&_until=2025-01-01", status: 400, mention: "_until is before _since"},
		{name: "_elements", path: "/fhir/$export?_type=Patient&_elements=id,Patient.name&_elements=gender", want: func(e events.ExportRequested) string {
			return cmp.Diff([]string{"id,Patient.name", "gender"}, e.Elements)
		}},
		{name: "_elements nested", path: "/fhir/$export?_elements=Patient.name.given", status: 400, mention: "top-level"},
		{name: "_typeFilter", path: "/fhir/$export?_type=Observation&_typeFilter=Observation%3Fstatus%3Dfinal,Observation%3Fcode%3Dhttp://loinc.org|8867-4", want: func(e events.ExportRequested) string {
			return cmp.Diff([]string{"Observation?status=final,Observation?code=http://loinc.org|8867-4"}, e.TypeFilters)
		}},
		{name: "_typeFilter malformed", path: "/fhir/$export?_typeFilter=status=final", status: 400, mention: "_typeFilter"},
		{name: "_typeFilter unsupported", path: "/fhir/$export?_typeFilter=Observation%3Fnosuch%3D1", status: 400, issue: "not-supported"},
		{name: "_typeFilter unsupported, lenient", path: "/fhir/$export?_typeFilter=Observation%3Fnosuch%3D1", header: lenientHeaders,
			want: func(e events.ExportRequested) string { return cmp.Diff(true, e.Lenient) }, wantWarnings: 1},
		{name: "patient at system level", path: "/fhir/$export?patient=Patient/p1", status: 400, mention: "Patient- and Group-level"},
		{name: "includeAssociatedData", path: "/fhir/$export?includeAssociatedData=LatestProvenanceResources,_custom", want: types(all...), wantWarnings: 2},
		{name: "includeAssociatedData unknown", path: "/fhir/$export?includeAssociatedData=Everything", status: 400, mention: "includeAssociatedData"},
		{name: "allowPartialManifests", path: "/fhir/$export?allowPartialManifests=false", want: types(all...)},
		{name: "organizeOutputBy", path: "/fhir/$export?organizeOutputBy=Patient", status: 400, issue: "invalid", mention: "organizeOutputBy"},
		{name: "unknown parameter", path: "/fhir/$export?_count=10", status: 400, mention: `"_count" is not a kick-off parameter`},
		{name: "unknown parameter, lenient", path: "/fhir/$export?_count=10", header: lenientHeaders, want: types(all...), wantWarnings: 1},
		{name: "every problem at once", path: "/fhir/$export?_type=Foo&_since=x&_outputFormat=csv", status: 400, mention: "Foo"},
		{name: "no Accept", path: "/fhir/$export", header: map[string]string{"Prefer": "respond-async"}, status: 400, mention: "Accept"},
		{name: "Accept json", path: "/fhir/$export", header: map[string]string{"Accept": "application/json", "Prefer": "respond-async"}, status: 400, mention: "application/fhir+json"},
		{name: "no Prefer", path: "/fhir/$export", header: map[string]string{"Accept": "application/fhir+json"}, status: 400, mention: "respond-async"},
		{name: "Prefer lenient only", path: "/fhir/$export", header: map[string]string{"Accept": "application/fhir+json", "Prefer": "handling=lenient"}, status: 400, mention: "respond-async"},
		{name: "patient level, compartment types", path: "/fhir/Patient/$export", want: func(e events.ExportRequested) string {
			return cmp.Diff([]any{events.LevelPatient, compartment}, []any{e.Level, e.ResourceTypes})
		}},
		{name: "patient level, patients", path: "/fhir/Patient/$export?patient=Patient/p1,p2&patient=Patient/p1", want: func(e events.ExportRequested) string {
			return cmp.Diff([]string{"p1", "p2"}, e.Patients)
		}},
		{name: "patient level, bad patient", path: "/fhir/Patient/$export?patient=Patient/a%20b", status: 400, mention: "patient"},
		{name: "patient level, type outside compartment", path: "/fhir/Patient/$export?_type=Patient,Organization", status: 400, mention: "Organization"},
		{name: "patient level, type outside compartment, lenient", path: "/fhir/Patient/$export?_type=Patient,Organization", header: lenientHeaders,
			want: types("Patient"), wantWarnings: 1},
		{name: "group level", path: "/fhir/Group/g1/$export?_type=Observation", want: func(e events.ExportRequested) string {
			return cmp.Diff([]any{events.LevelGroup, "g1", []string{"Observation"}}, []any{e.Level, e.GroupID, e.ResourceTypes})
		}},
		{name: "group level, member patient", path: "/fhir/Group/g1/$export?patient=Patient/p2", want: func(e events.ExportRequested) string {
			return cmp.Diff([]any{events.LevelPatient, "g1", []string{"p2"}}, []any{e.Level, e.GroupID, e.Patients})
		}},
		{name: "group level, non-member patient", path: "/fhir/Group/g1/$export?patient=Patient/p9", status: 400, mention: "not an active member"},
		{name: "unknown group", path: "/fhir/Group/nope/$export", status: 404, issue: "not-found", mention: "Group/nope"},
		{name: "POST Parameters", method: "POST", path: "/fhir/Patient/$export", body: `{"resourceType":"Parameters","parameter":[
			{"name":"_type","valueString":"Patient"},{"name":"_type","valueString":"Observation"},
			{"name":"_since","valueInstant":"2025-01-01T00:00:00Z"},{"name":"patient","valueReference":{"reference":"Patient/p1"}},
			{"name":"_typeFilter","valueString":"Observation?status=final"},{"name":"allowPartialManifests","valueBoolean":false}]}`,
			want: func(e events.ExportRequested) string {
				return cmp.Diff([]any{[]string{"Patient", "Observation"}, &since, []string{"p1"}, []string{"Observation?status=final"}},
					[]any{e.ResourceTypes, e.Since, e.Patients, e.TypeFilters})
			}},
		{name: "POST not Parameters", method: "POST", path: "/fhir/$export", body: `{"resourceType":"Patient"}`, status: 400, mention: "Parameters"},
		{name: "POST bad JSON", method: "POST", path: "/fhir/$export", body: `{"resourceType":`, status: 400, mention: "Parameters"},
		{name: "POST empty", method: "POST", path: "/fhir/$export", body: ``, status: 400, mention: "empty"},
		{name: "POST resource value", method: "POST", path: "/fhir/$export", body: `{"resourceType":"Parameters","parameter":[{"name":"_type","resource":{}}]}`, status: 400, mention: "resource"},
		{name: "POST two values", method: "POST", path: "/fhir/$export", body: `{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Patient","valueCode":"Patient"}]}`, status: 400, mention: "both"},
		{name: "POST with query", method: "POST", path: "/fhir/$export?_type=Patient", body: `{"resourceType":"Parameters"}`, status: 400, mention: "Parameters body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := tt.header
			if header == nil {
				header = fhirHeaders
			}
			var r response
			var id string
			if tt.method == "POST" {
				r, id = h.kickoffPOST(cred{key: plain}, tt.path, tt.body, header)
			} else {
				r, id = h.kickoff(cred{key: plain}, tt.path, header)
			}
			if tt.want == nil {
				wantOutcome(t, r, tt.status, tt.issue, tt.mention)
				return
			}
			o := wantOutcome(t, r, 202, "informational", id)
			if got := len(o.Issue) - 1; got != tt.wantWarnings {
				t.Errorf("%d warnings, want %d: %s", got, tt.wantWarnings, r.body)
			}
			if d := tt.want(h.requested(key.Tenant, id)); d != "" {
				t.Errorf("event (-want +got):\n%s", d)
			}
		})
	}
}

// types checks the event's resource types.
func types(want ...string) func(events.ExportRequested) string {
	return func(e events.ExportRequested) string { return cmp.Diff(want, e.ResourceTypes) }
}

func TestKickoffAuth(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{})
	tests := []struct {
		name    string
		c       cred
		status  int
		mention string
	}{
		{name: "no credentials", status: 401, mention: "Authorization: Bearer"},
		{name: "unknown key", c: cred{key: "clk_test_nope"}, status: 401, mention: "not known"},
		{name: "unknown bearer", c: cred{bearer: "jxa_nope"}, status: 401, mention: "not an access token"},
		{name: "not our token format", c: cred{bearer: "eyJhbGciOiJub25lIn0.e30."}, status: 401, mention: "/auth/token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := h.kickoff(tt.c, "/fhir/$export", fhirHeaders)
			wantOutcome(t, r, tt.status, "login", tt.mention)
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") && tt.c.key == "" {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge", r.header.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestKickoffScopes: a bearer token's scopes bound the export.
func TestKickoffScopes(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{MaxActiveExports: 100})
	plain, key := h.key("acme", events.ModeTest)
	kp, client := h.registerClient(plain, "ES384", "system/Patient.read system/Observation.rs?category=laboratory")
	token := h.bearer(kp, client, "system/Patient.read system/Observation.rs?category=laboratory")
	narrow := h.bearer(kp, client, "system/Patient.rs")
	tests := []struct {
		name    string
		c       cred
		path    string
		want    events.ExportRequested // ResourceTypes and TypeFilters compared
		status  int
		mention string
	}{
		{name: "covered types only", c: cred{bearer: token}, path: "/fhir/$export",
			want: events.ExportRequested{ResourceTypes: []string{"Observation", "Patient"}, TypeFilters: []string{"Observation?category=laboratory"}}},
		{name: "client filter ANDed with the scope's", c: cred{bearer: token}, path: "/fhir/$export?_type=Observation&_typeFilter=Observation%3Fstatus%3Dfinal",
			want: events.ExportRequested{ResourceTypes: []string{"Observation"}, TypeFilters: []string{"Observation?status=final&category=laboratory"}}},
		{name: "patient level", c: cred{bearer: narrow}, path: "/fhir/Patient/$export",
			want: events.ExportRequested{ResourceTypes: []string{"Patient"}}},
		{name: "type outside the scopes", c: cred{bearer: narrow}, path: "/fhir/$export?_type=Patient,Condition", status: 403, mention: "do not cover Condition"},
		{name: "API key reads everything", c: cred{key: plain}, path: "/fhir/$export?_type=Condition",
			want: events.ExportRequested{ResourceTypes: []string{"Condition"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, id := h.kickoff(tt.c, tt.path, fhirHeaders)
			if tt.status != 0 {
				wantOutcome(t, r, tt.status, "forbidden", tt.mention)
				return
			}
			if r.status != 202 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			e := h.requested(key.Tenant, id)
			if d := cmp.Diff([]any{tt.want.ResourceTypes, tt.want.TypeFilters}, []any{e.ResourceTypes, e.TypeFilters}); d != "" {
				t.Errorf("types and filters (-want +got):\n%s", d)
			}
			if wantReq := map[bool]string{true: client, false: key.ID}[tt.c.bearer != ""]; e.Requester != wantReq {
				t.Errorf("requester %q, want %q", e.Requester, wantReq)
			}
		})
	}
}

// TestRecordsWithBearer: a token reads the records its scopes cover whole
// and writes none.
func TestRecordsWithBearer(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{})
	plain, _ := h.key("acme", events.ModeTest)
	for _, p := range []string{"/fhir/Patient/p1", "/fhir/Observation/o1"} {
		typ := strings.Split(p, "/")[2]
		body, _ := json.Marshal(map[string]any{"resourceType": typ, "id": p[strings.LastIndex(p, "/")+1:], "status": "final"})
		if r := h.do(request{method: "PUT", path: p, key: plain, contentType: "application/fhir+json", body: body}); r.status != 201 {
			t.Fatalf("put %s: %d %s", p, r.status, r.body)
		}
	}
	kp, client := h.registerClient(plain, "RS384", "system/Patient.read system/Observation.rs?category=laboratory")
	token := h.bearer(kp, client, "system/Patient.read system/Observation.rs?category=laboratory")
	tests := []struct {
		name, method, path string
		status             int
	}{
		{name: "read a covered type", method: "GET", path: "/fhir/Patient/p1", status: 200},
		{name: "read a granular type", method: "GET", path: "/fhir/Observation/o1", status: 403},
		{name: "write", method: "DELETE", path: "/fhir/Patient/p1", status: 403},
		{name: "bundle", method: "POST", path: "/fhir", status: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(cred{bearer: token}.apply(request{method: tt.method, path: tt.path, contentType: "application/fhir+json", body: []byte(`{}`)}))
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.status == 403 {
				wantOutcome(t, r, 403, "forbidden")
			}
		})
	}
	if r := h.do(request{method: "GET", path: "/fhir/Patient/p1", key: plain}); r.status != 200 || slices.Contains(lines(r.body), "") {
		t.Errorf("the API key still reads: %d", r.status)
	}
}
