package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseResource(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantType string
		wantID   string
		wantRaw  string
	}{
		{"patient", `{"resourceType":"Patient","id":"p1"}`, "Patient", "p1", `{"resourceType":"Patient","id":"p1"}`},
		{"no id", `{"resourceType":"Observation","status":"final"}`, "Observation", "", `{"resourceType":"Observation","status":"final"}`},
		{"pretty printed", "{\n  \"resourceType\": \"Patient\",\n  \"name\": [ {\"text\": \"a b\"} ]\n}\n", "Patient", "", `{"resourceType":"Patient","name":[{"text":"a b"}]}`},
		{"type not first", `{"id":"x","resourceType":"Group"}`, "Group", "x", `{"id":"x","resourceType":"Group"}`},
		{"escaped type", `{"resourceType":"Pat\u0069ent"}`, "Patient", "", `{"resourceType":"Pat\u0069ent"}`},
		{"newline in string escaped", `{"resourceType":"Patient","text":"a\nb"}`, "Patient", "", `{"resourceType":"Patient","text":"a\nb"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseResource([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseResource: %v", err)
			}
			if r.Type != tt.wantType || r.ID != tt.wantID {
				t.Errorf("got %s/%s, want %s/%s", r.Type, r.ID, tt.wantType, tt.wantID)
			}
			if string(r.Raw) != tt.wantRaw {
				t.Errorf("Raw = %s, want %s", r.Raw, tt.wantRaw)
			}
		})
	}
}

func TestParseResourceErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want error
		hint string
		code string
	}{
		{"empty", "", ErrNotJSON, "empty", IssueStructure},
		{"blank", "  \n", ErrNotJSON, "empty", IssueStructure},
		{"not JSON", `{"resourceType":`, ErrNotJSON, "at byte", IssueStructure},
		{"trailing garbage", `{"resourceType":"Patient"} x`, ErrNotJSON, "at byte", IssueStructure},
		{"array", `[{"resourceType":"Patient"}]`, ErrNotObject, "an array", IssueStructure},
		{"string", `"Patient"`, ErrNotObject, "a string", IssueStructure},
		{"null", `null`, ErrNotObject, "null", IssueStructure},
		{"missing type", `{"id":"x"}`, ErrMissingType, "resourceType", IssueRequired},
		{"empty type", `{"resourceType":""}`, ErrMissingType, "resourceType", IssueRequired},
		{"type is a number", `{"resourceType":7}`, ErrStructure, "a number", IssueStructure},
		{"unknown type", `{"resourceType":"Foo"}`, ErrUnknownType, `"Foo"`, IssueNotSupported},
		{"lower-case type", `{"resourceType":"patient"}`, ErrUnknownType, `"patient"`, IssueNotSupported},
		{"bad id", `{"resourceType":"Patient","id":"a b"}`, ErrBadID, `"a b"`, IssueValue},
		{"empty id", `{"resourceType":"Patient","id":""}`, ErrBadID, "1 to 64", IssueValue},
		{"numeric id", `{"resourceType":"Patient","id":12}`, ErrStructure, "id is a number", IssueStructure},
		{"id twice", `{"resourceType":"Patient","id":"a","id":"b"}`, ErrStructure, "twice", IssueStructure},
		{"meta not object", `{"resourceType":"Patient","meta":"x"}`, ErrStructure, "meta is a string", IssueStructure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseResource([]byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseResource(%q) error = %v, want %v", tt.body, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.hint) {
				t.Errorf("error %q does not say %q", err, tt.hint)
			}
			if got := IssueCode(err); got != tt.code {
				t.Errorf("IssueCode = %q, want %q", got, tt.code)
			}
		})
	}
}

func TestSetMeta(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 30, 45, 123456789, time.FixedZone("x", 7200))
	const meta = `"meta":{"versionId":"3","lastUpdated":"2025-06-01T10:30:45.123Z"}`
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"no meta", `{"resourceType":"Patient","id":"p","active":true}`,
			`{"resourceType":"Patient","id":"p",` + meta + `,"active":true}`},
		{"no meta no id", `{"resourceType":"Patient","active":true}`,
			`{"resourceType":"Patient",` + meta + `,"active":true}`},
		{"meta replaced, other fields kept", `{"resourceType":"Patient","meta":{"versionId":"1","profile":["p"],"lastUpdated":"2020-01-01T00:00:00Z","tag":[{"code":"t"}]},"id":"p"}`,
			`{"resourceType":"Patient","meta":{"profile":["p"],"tag":[{"code":"t"}],"versionId":"3","lastUpdated":"2025-06-01T10:30:45.123Z"},"id":"p"}`},
		{"empty meta", `{"resourceType":"Patient","meta":{}}`, `{"resourceType":"Patient",` + meta + `}`},
		{"pretty input", "{\n \"resourceType\" : \"Patient\" ,\n \"a\" : [ 1 , 2 ]\n}", `{"resourceType":"Patient",` + meta + `,"a":[1,2]}`},
		{"no resourceType", `{"a":1}`, `{` + meta + `,"a":1}`},
		{"empty object", `{}`, `{` + meta + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SetMeta([]byte(tt.in), "3", at)
			if err != nil {
				t.Fatalf("SetMeta: %v", err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("SetMeta (-want +got):\n%s", diff)
			}
			if !json.Valid(got) || bytes.ContainsAny(got, "\r\n") {
				t.Errorf("SetMeta returned %q: not one compact JSON line", got)
			}
		})
	}
}

func TestSetMetaErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"not JSON", `{`, ErrNotJSON},
		{"array", `[]`, ErrNotObject},
		{"meta is an array", `{"meta":[]}`, ErrStructure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := SetMeta([]byte(tt.in), "1", time.Now()); !errors.Is(err, tt.want) {
				t.Errorf("SetMeta(%q) error = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

func TestStamp(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		id   string
		want string
	}{
		{"keep id", `{"resourceType":"Patient","id":"a"}`, "",
			`{"resourceType":"Patient","id":"a","meta":{"versionId":"1","lastUpdated":"2025-01-02T03:04:05.000Z"}}`},
		{"replace id", `{"resourceType":"Patient","id":"a"}`, "b",
			`{"resourceType":"Patient","id":"b","meta":{"versionId":"1","lastUpdated":"2025-01-02T03:04:05.000Z"}}`},
		{"add id", `{"resourceType":"Patient","gender":"female"}`, "b",
			`{"resourceType":"Patient","id":"b","meta":{"versionId":"1","lastUpdated":"2025-01-02T03:04:05.000Z"},"gender":"female"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseResource([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(r.Stamp(tt.id, "1", at))); diff != "" {
				t.Errorf("Stamp (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMeta(t *testing.T) {
	v, at := Meta([]byte(`{"resourceType":"Patient","meta":{"versionId":"7","lastUpdated":"2025-01-02T03:04:05.000Z"}}`))
	if v != "7" || !at.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("Meta = %q, %s", v, at)
	}
	if v, at := Meta([]byte(`{"resourceType":"Patient"}`)); v != "" || !at.IsZero() {
		t.Errorf("Meta without meta = %q, %s", v, at)
	}
}
