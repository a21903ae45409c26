package fhir

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewSelectionErrors(t *testing.T) {
	tests := []struct {
		name string
		spec SelectionSpec
		want []error
	}{
		{"unknown level", SelectionSpec{Level: "tenant"}, []error{ErrSelection}},
		{"patients at system level", SelectionSpec{Patients: []string{"p1"}}, []error{ErrSelection}},
		{"bad patient id", SelectionSpec{Level: LevelPatient, Patients: []string{"p 1"}}, []error{ErrSelection}},
		{"not a patient reference", SelectionSpec{Level: LevelPatient, Patients: []string{"Group/g1"}}, []error{ErrSelection}},
		{"bad filter", SelectionSpec{TypeFilters: []string{"Observation?colour=red"}}, []error{ErrUnsupported}},
		{"bad elements", SelectionSpec{Elements: []string{"Patient.name.given"}}, []error{ErrElements}},
		{"every problem at once", SelectionSpec{Level: "x", TypeFilters: []string{"Nope?a=b"}, Elements: []string{"A.b"}},
			[]error{ErrSelection, ErrTypeFilter, ErrElements}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := NewSelection(tt.spec)
			if s != nil || err == nil {
				t.Fatalf("NewSelection = %v, %v; want an error", s, err)
			}
			for _, want := range tt.want {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want it to wrap %v", err, want)
				}
			}
		})
	}
}

func TestSelectionTypes(t *testing.T) {
	tests := []struct {
		name      string
		level     string
		requested []string
		want      []string
	}{
		{"system keeps what was asked", LevelSystem, []string{"Organization", "Patient"}, []string{"Organization", "Patient"}},
		{"patient level drops non-compartment types", LevelPatient, []string{"Organization", "Patient", "Observation", "Device"}, []string{"Patient", "Observation"}},
		{"group level the same", LevelGroup, []string{"Practitioner"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := NewSelection(SelectionSpec{Level: tt.level})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, s.Types(tt.requested)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	sys, _, _ := NewSelection(SelectionSpec{})
	if got := sys.Types(nil); len(got) != len(ResourceTypes()) {
		t.Errorf("system level, nothing requested: %d types, want every R4 type", len(got))
	}
	pat, _, _ := NewSelection(SelectionSpec{Level: LevelPatient})
	if diff := cmp.Diff(PatientCompartmentTypes(), pat.Types(nil)); diff != "" {
		t.Errorf("patient level, nothing requested (-want +got):\n%s", diff)
	}
}

func TestSelectionTrivial(t *testing.T) {
	tests := []struct {
		name string
		spec SelectionSpec
		typ  string
		want bool
	}{
		{"plain system", SelectionSpec{}, "Observation", true},
		{"filter on the type", SelectionSpec{TypeFilters: []string{"Observation?status=final"}}, "Observation", false},
		{"filter on another type", SelectionSpec{TypeFilters: []string{"Observation?status=final"}}, "Patient", true},
		{"filter emptied under lenient", SelectionSpec{TypeFilters: []string{"Observation?colour=red"}, Lenient: true}, "Observation", true},
		{"one of two queries emptied", SelectionSpec{TypeFilters: []string{"Observation?status=final", "Observation?colour=red"}, Lenient: true}, "Observation", true},
		{"elements for all", SelectionSpec{Elements: []string{"id"}}, "Patient", false},
		{"elements for another type", SelectionSpec{Elements: []string{"Observation.code"}}, "Patient", true},
		{"patient level", SelectionSpec{Level: LevelPatient}, "Observation", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := NewSelection(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Trivial(tt.typ); got != tt.want {
				t.Errorf("Trivial(%s) = %v, want %v", tt.typ, got, tt.want)
			}
		})
	}
}

func TestSelectionApply(t *testing.T) {
	obsP2 := strings.Replace(obsVitals, "Patient/p1", "Patient/p2", 1)
	tests := []struct {
		name     string
		spec     SelectionSpec
		typ      string
		resource string
		keep     bool
		out      string // "" means unchanged
	}{
		{"system keeps all", SelectionSpec{}, "Observation", obsVitals, true, ""},
		{"patient level, any patient", SelectionSpec{Level: LevelPatient}, "Observation", obsVitals, true, ""},
		{"patient level, no patient reference", SelectionSpec{Level: LevelPatient}, "Observation", `{"resourceType":"Observation","subject":{"reference":"Group/g"}}`, false, ""},
		{"patient level, chosen patient", SelectionSpec{Level: LevelPatient, Patients: []string{"p1"}}, "Observation", obsVitals, true, ""},
		{"patient given as a reference", SelectionSpec{Level: LevelPatient, Patients: []string{"Patient/p1"}}, "Observation", obsVitals, true, ""},
		{"patient level, other patient", SelectionSpec{Level: LevelPatient, Patients: []string{"p1"}}, "Observation", obsP2, false, ""},
		{"patient level, non-compartment type", SelectionSpec{Level: LevelPatient}, "Organization", `{"resourceType":"Organization","id":"o"}`, false, ""},
		{"group level, member", SelectionSpec{Level: LevelGroup, Patients: []string{"p9", "p1"}}, "Patient", patientMunoz, true, ""},
		{"group level, empty group", SelectionSpec{Level: LevelGroup}, "Patient", patientMunoz, false, ""},
		{"filter keeps", SelectionSpec{TypeFilters: []string{"Observation?category=vital-signs"}}, "Observation", obsVitals, true, ""},
		{"filter drops", SelectionSpec{TypeFilters: []string{"Observation?category=laboratory"}}, "Observation", obsVitals, false, ""},
		{"filters OR-ed", SelectionSpec{TypeFilters: []string{"Observation?category=laboratory", "Observation?status=final"}}, "Observation", obsVitals, true, ""},
		{"filter of another type", SelectionSpec{TypeFilters: []string{"Condition?code=x"}}, "Observation", obsVitals, true, ""},
		{"compartment and filter", SelectionSpec{Level: LevelPatient, Patients: []string{"p1"}, TypeFilters: []string{"Observation?status=amended"}}, "Observation", obsVitals, false, ""},
		{"elements", SelectionSpec{Elements: []string{"Patient.gender"}}, "Patient", patientMunoz, true,
			`{"resourceType":"Patient","id":"p1","gender":"female","meta":{"tag":[` + tag + `]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := NewSelection(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			out, keep, err := s.Apply(tt.typ, []byte(tt.resource))
			if err != nil {
				t.Fatal(err)
			}
			if keep != tt.keep {
				t.Fatalf("keep = %v, want %v", keep, tt.keep)
			}
			want := tt.out
			if want == "" && keep {
				want = tt.resource
			}
			if string(out) != want {
				t.Errorf("out =\n%s\nwant\n%s", out, want)
			}
		})
	}
}

func TestSelectionApplyRejectsNonObjects(t *testing.T) {
	s, _, _ := NewSelection(SelectionSpec{})
	for _, in := range []string{``, `[]`, `"x"`, `null`} {
		if _, _, err := s.Apply("Patient", []byte(in)); !errors.Is(err, ErrNotObject) {
			t.Errorf("Apply(%q) err = %v, want ErrNotObject", in, err)
		}
	}
}

// TestSelectionSynthea runs a patient-level selection for one Synthea
// patient over all three bundles: exactly that patient's compartment
// resources are kept, each subsetted to valid JSON.
func TestSelectionSynthea(t *testing.T) {
	records := syntheaRecords(t)
	var ids []string
	for id := range records {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	chosen := ids[0]
	s, warnings, err := NewSelection(SelectionSpec{
		Level:       LevelGroup,
		Patients:    []string{chosen},
		TypeFilters: []string{"Observation?category=vital-signs,laboratory", "Condition?clinical-status=active,resolved"},
		Elements:    []string{"Observation.value,subject", "Patient.birthDate"},
	})
	if err != nil || len(warnings) > 0 {
		t.Fatalf("NewSelection: %v %v", err, warnings)
	}
	var wg sync.WaitGroup
	kept := make(map[string]int)
	var mu sync.Mutex
	for id, entries := range records {
		wg.Add(1)
		go func() { // one Selection serves goroutines at once
			defer wg.Done()
			for _, e := range entries {
				out, keep, err := s.Apply(e.Type, e.Resource.Raw)
				if err != nil {
					t.Errorf("%s: %v", e.Key(), err)
					return
				}
				if !keep {
					continue
				}
				if id != chosen || !InPatientCompartment(e.Type) {
					t.Errorf("%s of patient %s kept", e.Key(), id)
				}
				var m map[string]any
				if err := json.Unmarshal(out, &m); err != nil {
					t.Errorf("%s: output is not JSON: %v", e.Key(), err)
				}
				if e.Type == "Observation" || e.Type == "Patient" {
					if !strings.Contains(string(out), `"SUBSETTED"`) {
						t.Errorf("%s not tagged SUBSETTED", e.Key())
					}
				}
				mu.Lock()
				kept[e.Type]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if kept["Patient"] != 1 || kept["Observation"] == 0 || kept["Organization"] != 0 {
		t.Errorf("kept %v", kept)
	}
}
