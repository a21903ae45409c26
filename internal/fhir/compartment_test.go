package fhir

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPatientCompartmentTypes(t *testing.T) {
	got := PatientCompartmentTypes()
	if len(got) != 66 {
		t.Errorf("got %d types, want the 66 the R4 patient CompartmentDefinition gives parameters to", len(got))
	}
	if !slices.IsSorted(got) {
		t.Error("not sorted")
	}
	for _, typ := range got {
		if !IsResourceType(typ) {
			t.Errorf("%q is not an R4 resource type", typ)
		}
	}
	tests := []struct {
		typ  string
		want bool
	}{
		{"Patient", true}, {"Observation", true}, {"Encounter", true}, {"Claim", true},
		{"ExplanationOfBenefit", true}, {"Group", true}, {"Coverage", true}, {"SupplyRequest", true},
		{"Device", false}, {"Organization", false}, {"Practitioner", false}, {"Medication", false},
		{"Location", false}, {"Bundle", false}, {"patient", false}, {"", false},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			if got := InPatientCompartment(tt.typ); got != tt.want {
				t.Errorf("InPatientCompartment(%q) = %v, want %v", tt.typ, got, tt.want)
			}
		})
	}
}

// TestCompartmentAgreesWithSearchParams checks the two tables against each
// other: a compartment parameter that _typeFilter also supports reads the
// same paths.
func TestCompartmentAgreesWithSearchParams(t *testing.T) {
	for _, typ := range PatientCompartmentTypes() {
		params := PatientCompartmentParams(typ)
		if len(params) == 0 {
			t.Errorf("%s: no parameters", typ)
		}
		for _, cp := range params {
			sp := searchParams[typ][cp.Name]
			if sp == nil {
				continue
			}
			var want []string
			for _, p := range sp.paths {
				want = append(want, pathString(p))
			}
			if diff := cmp.Diff(want, cp.Paths); diff != "" {
				t.Errorf("%s.%s: compartment paths differ from the search parameter's (-search +compartment):\n%s", typ, cp.Name, diff)
			}
		}
	}
	if PatientCompartmentParams("Device") != nil {
		t.Error("Device has compartment parameters; R4 lists it without any")
	}
}

// pathString writes a path back in the table syntax.
func pathString(p path) string {
	var parts []string
	for _, st := range p.steps {
		s := st.name
		if st.choice {
			s += "[x]"
		}
		if st.whereKey != "" {
			s += "[" + st.whereKey + "=" + st.whereVal + "]"
		}
		parts = append(parts, s)
	}
	s := strings.Join(parts, ".")
	if p.refType != "" {
		s += "@" + p.refType
	}
	return s
}

func TestCompartmentPatients(t *testing.T) {
	tests := []struct {
		name     string
		typ      string
		resource string
		want     []string
	}{
		{"observation subject", "Observation", `{"resourceType":"Observation","subject":{"reference":"Patient/p1"}}`, []string{"p1"}},
		{"observation subject and performer", "Observation",
			`{"resourceType":"Observation","subject":{"reference":"Patient/p1"},"performer":[{"reference":"Practitioner/d"},{"reference":"Patient/p2"},{"reference":"Patient/p1"}]}`,
			[]string{"p1", "p2"}},
		{"absolute URL", "Observation", `{"resourceType":"Observation","subject":{"reference":"https://ehr.example/fhir/Patient/p1"}}`, []string{"p1"}},
		{"versioned", "Observation", `{"resourceType":"Observation","subject":{"reference":"Patient/p1/_history/3"}}`, []string{"p1"}},
		{"group subject is not a patient", "Observation", `{"resourceType":"Observation","subject":{"reference":"Group/g1"}}`, nil},
		{"urn:uuid unresolved", "Observation", `{"resourceType":"Observation","subject":{"reference":"urn:uuid:7515d14b-843b-4210-8b6b-a33ab253d560"}}`, nil},
		{"contained", "Observation", `{"resourceType":"Observation","subject":{"reference":"#p"}}`, nil},
		{"conditional", "Observation", `{"resourceType":"Observation","subject":{"reference":"Patient?identifier=x|1"}}`, nil},
		{"no subject", "Observation", `{"resourceType":"Observation","status":"final"}`, nil},
		{"encounter subject", "Encounter", `{"resourceType":"Encounter","subject":{"reference":"Patient/p1"}}`, []string{"p1"}},
		{"encounter participant is not in R4", "Encounter", `{"resourceType":"Encounter","participant":[{"individual":{"reference":"Patient/p9"}}]}`, nil},
		{"patient itself", "Patient", `{"resourceType":"Patient","id":"p1"}`, []string{"p1"}},
		{"patient link", "Patient", `{"resourceType":"Patient","id":"p1","link":[{"other":{"reference":"Patient/p0"},"type":"replaces"}]}`, []string{"p1", "p0"}},
		{"claim patient and payee", "Claim", `{"resourceType":"Claim","patient":{"reference":"Patient/p1"},"payee":{"party":{"reference":"Patient/p2"}}}`, []string{"p1", "p2"}},
		{"eob", "ExplanationOfBenefit", `{"resourceType":"ExplanationOfBenefit","patient":{"reference":"Patient/p1"}}`, []string{"p1"}},
		{"procedure performer actor", "Procedure", `{"resourceType":"Procedure","subject":{"reference":"Patient/p1"},"performer":[{"actor":{"reference":"Patient/p3"}}]}`, []string{"p1", "p3"}},
		{"careplan performer", "CarePlan", `{"resourceType":"CarePlan","subject":{"reference":"Patient/p1"},"activity":[{"detail":{"performer":[{"reference":"Patient/p4"}]}}]}`, []string{"p1", "p4"}},
		{"careteam participant", "CareTeam", `{"resourceType":"CareTeam","subject":{"reference":"Patient/p1"},"participant":[{"member":{"reference":"Patient/p5"}}]}`, []string{"p1", "p5"}},
		{"allergy asserter", "AllergyIntolerance", `{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/p1"},"asserter":{"reference":"Patient/p2"}}`, []string{"p1", "p2"}},
		{"coverage beneficiary", "Coverage", `{"resourceType":"Coverage","beneficiary":{"reference":"Patient/p1"},"payor":[{"reference":"Organization/o"}]}`, []string{"p1"}},
		{"group urn:uuid members", "Group", `{"resourceType":"Group","member":[{"entity":{"reference":"urn:uuid:a1"}},{"entity":{"reference":"Patient/b2"}},{"entity":{"reference":"Practitioner/d"}}]}`, []string{"a1", "b2"}},
		{"audit event agent", "AuditEvent", `{"resourceType":"AuditEvent","agent":[{"who":{"reference":"Patient/p1"}},{"who":{"reference":"Device/d"}}]}`, []string{"p1"}},
		{"outside the compartment", "Organization", `{"resourceType":"Organization","id":"o"}`, nil},
		{"device is outside in R4", "Device", `{"resourceType":"Device","patient":{"reference":"Patient/p1"}}`, nil},
		{"escaped key", "Observation", `{"resourceType":"Observation","subj\u0065ct":{"reference":"Patient/p1"}}`, []string{"p1"}},
		{"wrong shapes", "Observation", `{"resourceType":"Observation","subject":"Patient/p1x","performer":{"reference":7}}`, []string{"p1x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CompartmentPatients(tt.typ, []byte(tt.resource))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CompartmentPatients (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompartmentPatientsErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
	}{
		{"empty", ``, ErrNotJSON},
		{"truncated", `{"resourceType":"Observation"`, ErrNotJSON},
		{"array", `[]`, ErrNotObject},
		{"string", `"Patient/1"`, ErrNotObject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompartmentPatients("Observation", []byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// syntheaRecords returns the records of each Synthea bundle as the store
// keeps them (urn:uuid references rewritten), keyed by the bundle's
// patient id.
func syntheaRecords(tb testing.TB) map[string][]Entry {
	tb.Helper()
	out := map[string][]Entry{}
	for _, f := range syntheaFiles(tb) {
		body, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		b, err := ParseBundle(body)
		if err != nil {
			tb.Fatal(err)
		}
		// The file name ends in the patient's id.
		base := strings.TrimSuffix(filepath.Base(f), ".json")
		id := base[strings.LastIndexByte(base, '_')+1:]
		out[id] = b.Entries
	}
	return out
}

func TestCompartmentSynthea(t *testing.T) {
	for patient, entries := range syntheaRecords(t) {
		t.Run(patient, func(t *testing.T) {
			counts := map[string]int{}
			for _, e := range entries {
				got, err := CompartmentPatients(e.Type, e.Resource.Raw)
				if err != nil {
					t.Fatalf("%s: %v", e.Key(), err)
				}
				if !InPatientCompartment(e.Type) {
					if got != nil {
						t.Errorf("%s is outside the compartment but belongs to %v", e.Key(), got)
					}
					continue
				}
				if !slices.Equal(got, []string{patient}) {
					t.Errorf("%s belongs to %v, want exactly [%s]", e.Key(), got, patient)
				}
				counts[e.Type]++
			}
			for _, typ := range []string{"Patient", "Encounter", "Observation", "Claim", "ExplanationOfBenefit", "Immunization"} {
				if counts[typ] == 0 {
					t.Errorf("no %s attributed to the patient", typ)
				}
			}
		})
	}
}

// TestCompartmentSynthea100 checks the attribution over the 100-patient
// fixture (beside the repository, in shared/fixtures): every record of a
// compartment type in a patient's Bundle belongs to exactly that patient,
// and the shared Bundles (hospitals, practitioners) hold none.
func TestCompartmentSynthea100(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "fixtures", "synthea-r4-100", "bundles")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Skipf("fixtures absent: %s holds no bundles", dir)
	}
	if testing.Short() {
		t.Skip("-short: skipping the 100-patient fixture")
	}
	inside, outside := map[string]int{}, map[string]int{}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseBundle(body)
		if err != nil {
			continue // the bare Group is not a Bundle: TestFixtureGroup in fhirstore reads it
		}
		var patient string
		for _, e := range b.Entries {
			if e.Type == "Patient" {
				patient = e.ID
			}
		}
		for _, e := range b.Entries {
			got, err := CompartmentPatients(e.Type, e.Resource.Raw)
			if err != nil {
				t.Fatalf("%s: %v", e.Key(), err)
			}
			if !InPatientCompartment(e.Type) {
				outside[e.Type]++
				continue
			}
			inside[e.Type]++
			if patient == "" || !slices.Equal(got, []string{patient}) {
				t.Errorf("%s in %s belongs to %v, want exactly [%s]", e.Key(), filepath.Base(f), got, patient)
			}
		}
	}
	t.Logf("in the compartment: %v", inside)
	t.Logf("outside: %v", outside)
}
