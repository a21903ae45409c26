package fhir

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// filterResources are what fuzzed filters are matched against: the test
// resources and a few awkward shapes.
var filterResources = []string{
	obsVitals, obsLab, patientMunoz, condition, medReq,
	`{}`, `{"resourceType":"Observation","code":[],"subject":"x","effectivePeriod":{"start":7},"meta":null}`,
	`{"resourceType":"Patient","name":{"given":[1,null,"a"]},"birthDate":"99999","telecom":[{"system":{}}]}`,
	`{"resourceType":"Observation","category":[{"coding":{"code":"x"}}],"effectiveTiming":{"repeat":{"boundsPeriod":{"end":"2020"}}}}`,
}

// FuzzParseTypeFilter checks that no _typeFilter query panics, that every
// error is one of the two kinds, and that lenient parsing only fails on
// malformed queries.
func FuzzParseTypeFilter(f *testing.F) {
	for _, s := range []string{
		"Observation?code=http://loinc.org|8867-4&date=ge2020-01-01",
		"Observation%3Fcode%3Dhttp%3A%2F%2Floinc.org%7C8867-4",
		"Patient?family:contains=mu%C3%B1&birthdate=ap1980",
		"Observation?subject:Patient=p1&encounter:missing=true",
		"Observation?status:not=final,amended&category:text=vital",
		"Observation?code=a\\,b|c\\|d",
		"Condition?onset-date=sa2015-02-10T08:00:00.123+05:30",
		"CarePlan?instantiates-canonical=http://x/PlanDefinition/1|2",
		"Patient?_profile:below=http://hl7.org",
		"Observation?colour=red", "Observation?", "?", "", "Observation?date=ge", "Observation?=x&&",
		"Observation?_sort=date", "MedicationRequest?status=active,MedicationRequest?status=completed",
	} {
		f.Add(s)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, q string) {
		for _, one := range SplitTypeFilters(q) {
			tf, _, err := parseTypeFilter(one, false, now)
			if err != nil {
				if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTypeFilter) {
					t.Fatalf("%q: error of no known kind: %v", one, err)
				}
				if _, _, lerr := parseTypeFilter(one, true, now); lerr != nil && errors.Is(lerr, ErrUnsupported) && !errors.Is(lerr, ErrTypeFilter) {
					t.Fatalf("%q: lenient parsing still fails on an unsupported parameter: %v", one, lerr)
				}
				continue
			}
			for _, r := range filterResources {
				tf.Match([]byte(r))
			}
		}
	})
}

// FuzzSelectionApply checks that Apply never panics on any record, and
// that a valid JSON object comes out as valid JSON.
func FuzzSelectionApply(f *testing.F) {
	for _, r := range filterResources {
		f.Add(r)
	}
	f.Add(`{"resourceType":"Patient","id":"p1","meta":{"tag":"x"},"link":[{"other":{"reference":"Patient/p2"}}]}`)
	f.Add(`{"a":"\"}","meta":{"tag":[{"system":"\u0068"}]}}`)
	sel, _, err := NewSelection(SelectionSpec{
		Level:       LevelPatient,
		Patients:    []string{"p1"},
		TypeFilters: []string{"Observation?date=ge2000&status:not=cancelled", "Patient?name=zo,mu"},
		Elements:    []string{"id,value,Patient.name"},
	})
	if err != nil {
		f.Fatal(err)
	}
	types := []string{"Observation", "Patient", "Group", "Condition"}
	f.Fuzz(func(t *testing.T, resource string) {
		for _, typ := range types {
			out, keep, err := sel.Apply(typ, []byte(resource))
			if err != nil || !keep {
				continue
			}
			if json.Valid([]byte(resource)) && !json.Valid(out) {
				t.Fatalf("Apply(%s, %s) = %s: not valid JSON", typ, resource, out)
			}
		}
		if json.Valid([]byte(resource)) {
			if _, err := CompartmentPatients("Observation", []byte(resource)); err != nil && !errors.Is(err, ErrNotObject) {
				t.Fatalf("CompartmentPatients: %v", err)
			}
		}
	})
}
