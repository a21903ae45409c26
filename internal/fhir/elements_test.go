package fhir

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const tag = `{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED"}`

func TestElementsApply(t *testing.T) {
	tests := []struct {
		name     string
		values   []string
		typ      string
		resource string
		want     string
	}{
		{"observation keeps mandatory", []string{"subject"}, "Observation",
			`{"resourceType":"Observation","id":"o1","meta":{"versionId":"2"},"status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p"},"note":[{"text":"n"}]}`,
			`{"resourceType":"Observation","id":"o1","meta":{"versionId":"2","tag":[` + tag + `]},"status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p"}}`},
		{"typed element", []string{"Patient.name"}, "Patient",
			`{"resourceType":"Patient","id":"p","gender":"male","name":[{"family":"F"}],"birthDate":"2000-01-01"}`,
			`{"resourceType":"Patient","id":"p","name":[{"family":"F"}],"meta":{"tag":[` + tag + `]}}`},
		{"primitive extension goes along", []string{"birthDate"}, "Patient",
			`{"resourceType":"Patient","id":"p","birthDate":"2000-01-01","_birthDate":{"extension":[]},"gender":"male"}`,
			`{"resourceType":"Patient","id":"p","birthDate":"2000-01-01","_birthDate":{"extension":[]},"meta":{"tag":[` + tag + `]}}`},
		{"choice named without type", []string{"value"}, "Observation",
			`{"resourceType":"Observation","status":"final","code":{},"valueQuantity":{"value":1},"statusReason":{},"effectiveDateTime":"2020"}`,
			`{"resourceType":"Observation","status":"final","code":{},"valueQuantity":{"value":1},"meta":{"tag":[` + tag + `]}}`},
		{"choice named with [x]", []string{"Observation.effective[x]"}, "Observation",
			`{"resourceType":"Observation","status":"final","code":{},"valueQuantity":{"value":1},"effectivePeriod":{}}`,
			`{"resourceType":"Observation","status":"final","code":{},"effectivePeriod":{},"meta":{"tag":[` + tag + `]}}`},
		{"mandatory choice", []string{"id"}, "MedicationRequest",
			`{"resourceType":"MedicationRequest","id":"m","status":"active","intent":"order","medicationCodeableConcept":{},"subject":{},"note":[]}`,
			`{"resourceType":"MedicationRequest","id":"m","status":"active","intent":"order","medicationCodeableConcept":{},"subject":{},"meta":{"tag":[` + tag + `]}}`},
		{"existing tags kept, tag added once", []string{"id"}, "Patient",
			`{"resourceType":"Patient","id":"p","meta":{"tag":[{"code":"a"},` + tag + `],"lastUpdated":"2025-01-01T00:00:00.000Z"},"gender":"x"}`,
			`{"resourceType":"Patient","id":"p","meta":{"tag":[{"code":"a"},` + tag + `],"lastUpdated":"2025-01-01T00:00:00.000Z"}}`},
		{"existing tags, tag appended", []string{"id"}, "Patient",
			`{"resourceType":"Patient","id":"p","meta":{"tag":[{"code":"a"}]}}`,
			`{"resourceType":"Patient","id":"p","meta":{"tag":[{"code":"a"},` + tag + `]}}`},
		{"empty tag array", []string{"id"}, "Patient",
			`{"resourceType":"Patient","id":"p","meta":{"tag":[]}}`,
			`{"resourceType":"Patient","id":"p","meta":{"tag":[` + tag + `]}}`},
		{"no id", []string{"gender"}, "Patient",
			`{"resourceType":"Patient","gender":"x","active":true}`,
			`{"resourceType":"Patient","gender":"x","meta":{"tag":[` + tag + `]}}`},
		{"modifier elements stay", []string{"id"}, "Basic",
			`{"resourceType":"Basic","id":"b","modifierExtension":[{}],"implicitRules":"x","code":{},"author":{}}`,
			`{"resourceType":"Basic","id":"b","modifierExtension":[{}],"implicitRules":"x","code":{},"meta":{"tag":[` + tag + `]}}`},
		{"untyped for all plus typed for one", []string{"id,Encounter.period"}, "Encounter",
			`{"resourceType":"Encounter","id":"e","status":"finished","class":{},"period":{},"type":[]}`,
			`{"resourceType":"Encounter","id":"e","status":"finished","class":{},"period":{},"meta":{"tag":[` + tag + `]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseElements(tt.values)
			if err != nil {
				t.Fatal(err)
			}
			if !e.Applies(tt.typ) {
				t.Fatalf("Applies(%s) = false", tt.typ)
			}
			got := string(e.Apply(nil, tt.typ, []byte(tt.resource)))
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Error("not valid JSON")
			}
		})
	}
}

func TestElementsApplies(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		typ    string
		want   bool
	}{
		{"none", nil, "Patient", false},
		{"blank", []string{" , "}, "Patient", false},
		{"untyped", []string{"id"}, "Observation", true},
		{"typed other type", []string{"Patient.name"}, "Observation", false},
		{"typed this type", []string{"Patient.name", "Observation.code"}, "Observation", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseElements(tt.values)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Applies(tt.typ); got != tt.want {
				t.Errorf("Applies = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseElementsErrors(t *testing.T) {
	tests := []struct {
		name, value, hint string
	}{
		{"nested", "Patient.name.given", "top-level"},
		{"nested untyped", "name.given", "not a FHIR R4 resource type"},
		{"unknown type", "Patinet.name", "not a FHIR R4 resource type"},
		{"type alone", "Patient", "resource type alone"},
		{"bad name", "Patient.na-me", "not an element name"},
		{"capitalised", "Name", "not an element name"},
		{"empty element", "Patient.", "not an element name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateElements([]string{"id", tt.value})
			if !errors.Is(err, ErrElements) {
				t.Fatalf("err = %v, want ErrElements", err)
			}
			if !strings.Contains(err.Error(), tt.hint) {
				t.Errorf("message %q does not say %q", err, tt.hint)
			}
		})
	}
}

func TestMandatoryElements(t *testing.T) {
	got := MandatoryElements("Observation")
	for _, want := range []string{"resourceType", "id", "meta", "status", "code"} {
		found := false
		for _, g := range got {
			found = found || g == want
		}
		if !found {
			t.Errorf("Observation mandatory elements %v lack %s", got, want)
		}
	}
	for typ := range mandatoryElements {
		if !IsResourceType(typ) {
			t.Errorf("%q is not a resource type", typ)
		}
	}
}
