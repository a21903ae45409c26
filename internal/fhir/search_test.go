package fhir

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Resources the filter tests run against.
const (
	obsVitals = `{"resourceType":"Observation","id":"o1","meta":{"versionId":"1","lastUpdated":"2025-03-01T12:00:00.000Z","tag":[{"system":"urn:t","code":"x"}]},` +
		`"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],` +
		`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},` +
		`"subject":{"reference":"Patient/p1"},"encounter":{"reference":"Encounter/e1"},"effectiveDateTime":"2020-06-15T10:30:00-05:00",` +
		`"identifier":[{"system":"urn:ids","value":"A-1"}],"valueQuantity":{"value":72,"unit":"/min"}}`
	obsLab = `{"resourceType":"Observation","id":"o2","status":"amended","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],` +
		`"code":{"coding":[{"system":"http://loinc.org","code":"2339-0"}]},"subject":{"reference":"https://x.example/fhir/Patient/p2"},` +
		`"effectivePeriod":{"start":"2019-01-01","end":"2019-01-31"},"valueString":"Normal"}`
	patientMunoz = `{"resourceType":"Patient","id":"p1","active":true,"gender":"female","birthDate":"1980-05-17",` +
		`"name":[{"use":"official","family":"Muñoz","given":["Zoë","Ann"]}],"telecom":[{"system":"phone","value":"555-1234"},{"system":"email","value":"zoe@example.org"}],` +
		`"address":[{"line":["1 Main St"],"city":"Boston","state":"MA"}],"identifier":[{"system":"http://hospital.smarthealthit.org","value":"ab-12"}]}`
	condition = `{"resourceType":"Condition","id":"c1","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},` +
		`"code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}]},"subject":{"reference":"Patient/p1"},"onsetDateTime":"2015-02-10T08:00:00Z"}`
	medReq = `{"resourceType":"MedicationRequest","id":"m1","status":"active","intent":"order","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"313782"}]},"subject":{"reference":"Patient/p1"},"authoredOn":"2021-11-02"}`
)

func TestTypeFilterMatch(t *testing.T) {
	tests := []struct {
		name     string
		query    string
		resource string
		want     bool
	}{
		// token
		{"system|code", "Observation?code=http://loinc.org|8867-4", obsVitals, true},
		{"system|code other code", "Observation?code=http://loinc.org|2339-0", obsVitals, false},
		{"code alone", "Observation?code=8867-4", obsVitals, true},
		{"|code needs no system", "Observation?code=|8867-4", obsVitals, false},
		{"system|", "Observation?code=http://loinc.org|", obsVitals, true},
		{"system| other system", "Observation?code=http://snomed.info/sct|", obsVitals, false},
		{"OR within a parameter", "Observation?code=1-1,http://loinc.org|8867-4", obsVitals, true},
		{"URL-encoded value", "Observation?code=http%3A%2F%2Floinc.org%7C8867-4", obsVitals, true},
		{"whole query URL-encoded", "Observation%3Fcode%3Dhttp%3A%2F%2Floinc.org%7C8867-4", obsVitals, true},
		{"status primitive", "Observation?status=final", obsVitals, true},
		{"status OR", "Observation?status=preliminary,amended", obsLab, true},
		{"status :not", "Observation?status:not=final", obsVitals, false},
		{"status :not other", "Observation?status:not=final", obsLab, true},
		{"category", "Observation?category=vital-signs", obsVitals, true},
		{"category :not", "Observation?category:not=vital-signs", obsLab, true},
		{"code :text", "Observation?code:text=heart", obsVitals, true},
		{"identifier", "Observation?identifier=urn:ids|A-1", obsVitals, true},
		{"identifier value only", "Observation?identifier=A-1", obsVitals, true},
		{"_id", "Observation?_id=o1", obsVitals, true},
		{"_id other", "Observation?_id=o2", obsVitals, false},
		{"_tag", "Observation?_tag=urn:t|x", obsVitals, true},
		{"boolean", "Patient?active=true", patientMunoz, true},
		{"boolean false", "Patient?active=false", patientMunoz, false},
		{"gender", "Patient?gender=female", patientMunoz, true},
		{"email where", "Patient?email=zoe@example.org", patientMunoz, true},
		{"phone is not email", "Patient?email=555-1234", patientMunoz, false},
		{"clinical-status", "Condition?clinical-status=active", condition, true},
		{"medication code", "MedicationRequest?code=http://www.nlm.nih.gov/research/umls/rxnorm|313782", medReq, true},
		{"intent", "MedicationRequest?intent=order&status=active", medReq, true},
		// string
		{"family starts with, case and accent", "Patient?family=MUNO", patientMunoz, true},
		{"given second", "Patient?given=ann", patientMunoz, true},
		{"given accent", "Patient?given=zoe", patientMunoz, true},
		{"name any part", "Patient?name=zo", patientMunoz, true},
		{"name does not read use", "Patient?name=official", patientMunoz, false},
		{"exact", "Patient?family:exact=Muñoz", patientMunoz, true},
		{"exact is case-sensitive", "Patient?family:exact=muñoz", patientMunoz, false},
		{"contains", "Patient?family:contains=ÑO", patientMunoz, true},
		{"address city", "Patient?address-city=bos", patientMunoz, true},
		{"address any part", "Patient?address=main", patientMunoz, false},
		{"address line starts", "Patient?address=1 main", patientMunoz, true},
		{"value-string", "Observation?value-string=norm", obsLab, true},
		// date
		{"date ge", "Observation?date=ge2020-01-01", obsVitals, true},
		{"date lt", "Observation?date=lt2020-01-01", obsVitals, false},
		{"date eq day with zone", "Observation?date=2020-06-15", obsVitals, true},
		{"date eq year", "Observation?date=2020", obsVitals, true},
		{"date eq other day", "Observation?date=2020-06-14", obsVitals, false},
		{"date range AND", "Observation?date=ge2020-06-01&date=lt2020-07-01", obsVitals, true},
		{"period within year", "Observation?date=2019", obsLab, true},
		{"period within month", "Observation?date=2019-01", obsLab, true},
		{"period sa", "Observation?date=sa2018-12-31", obsLab, true},
		{"period eb", "Observation?date=eb2019-01-15", obsLab, false},
		{"period gt", "Observation?date=gt2019-01-15", obsLab, true},
		{"ne", "Observation?date=ne2019", obsVitals, true},
		{"birthdate", "Patient?birthdate=1980", patientMunoz, true},
		{"birthdate le", "Patient?birthdate=le1979-12-31", patientMunoz, false},
		{"onset-date", "Condition?onset-date=ge2015-02-10T00:00:00Z", condition, true},
		{"_lastUpdated", "Observation?_lastUpdated=ge2025-03-01T12:00:00Z", obsVitals, true},
		{"_lastUpdated gt", "Observation?_lastUpdated=gt2025-03-01T12:00:00.000Z", obsVitals, false},
		{"time with plus zone", "Observation?date=ge2020-06-15T16:00:00+01:00", obsVitals, true},
		{"authoredon", "MedicationRequest?authoredon=2021-11", medReq, true},
		// reference
		{"patient id", "Observation?patient=p1", obsVitals, true},
		{"patient Type/id", "Observation?patient=Patient/p1", obsVitals, true},
		{"patient other", "Observation?patient=p2", obsVitals, false},
		{"subject absolute in resource", "Observation?subject=Patient/p2", obsLab, true},
		{"subject absolute in query", "Observation?subject=https://y.example/fhir/Patient/p1", obsVitals, true},
		{"subject :Patient", "Observation?subject:Patient=p1", obsVitals, true},
		{"subject :Group", "Observation?subject:Group=p1", obsVitals, false},
		{"encounter", "Observation?encounter=Encounter/e1", obsVitals, true},
		{"encounter wrong type", "Observation?encounter=Patient/e1", obsVitals, false},
		// missing
		{"missing true", "Observation?encounter:missing=true", obsLab, true},
		{"missing false", "Observation?encounter:missing=false", obsVitals, true},
		{"missing false absent", "Observation?encounter:missing=false", obsLab, false},
		// AND across parameters
		{"AND all", "Observation?status=final&category=vital-signs&patient=p1", obsVitals, true},
		{"AND one fails", "Observation?status=final&category=laboratory", obsVitals, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseTypeFilter(tt.query)
			if err != nil {
				t.Fatalf("ParseTypeFilter(%q): %v", tt.query, err)
			}
			if got := f.Match([]byte(tt.resource)); got != tt.want {
				t.Errorf("%s matches = %v, want %v", tt.query, got, tt.want)
			}
		})
	}
}

func TestParseTypeFilterErrors(t *testing.T) {
	tests := []struct {
		name, query string
		want        error
		hint        string // the message must say this
	}{
		{"no question mark", "Observation", ErrTypeFilter, "Observation?status=final"},
		{"unknown type", "Observbation?status=final", ErrTypeFilter, "unknown resource type"},
		{"lower-case type", "observation?status=final", ErrTypeFilter, "case-sensitive"},
		{"empty query", "Observation?", ErrTypeFilter, "empty"},
		{"no equals", "Observation?status", ErrTypeFilter, "no '='"},
		{"empty value", "Observation?status=", ErrTypeFilter, "empty value"},
		{"bad date", "Observation?date=ge2020-13-01", ErrTypeFilter, "not a date"},
		{"bad encoding", "Observation?code=%zz", ErrTypeFilter, "URL-encoded"},
		{"missing value", "Observation?code:missing=maybe", ErrTypeFilter, "true or false"},
		{"unknown parameter", "Observation?colour=red", ErrUnsupported, `"colour"`},
		{"supported list", "Observation?colour=red", ErrUnsupported, "category"},
		{"unknown modifier", "Observation?code:below=http://loinc.org|8867", ErrUnsupported, ":below"},
		{"string modifier on token", "Observation?status:exact=final", ErrUnsupported, ":exact"},
		{"chained", "Observation?subject.name=peter", ErrUnsupported, "chained"},
		{"result parameter", "Observation?_sort=date", ErrUnsupported, "_sort"},
		{"include", "Observation?_include=Observation:subject", ErrUnsupported, "_include"},
		{"quantity parameter", "Observation?value-quantity=gt5", ErrUnsupported, "value-quantity"},
		{"bad prefix", "Observation?date=xx2020", ErrUnsupported, "prefix"},
		{"has", "Patient?_has:Observation:patient:code=1234", ErrUnsupported, "_has"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTypeFilter(tt.query)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseTypeFilter(%q) = %v, want %v", tt.query, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.hint) {
				t.Errorf("message %q does not say %q", err, tt.hint)
			}
			if errors.Is(err, ErrUnsupported) && IssueCode(err) != IssueNotSupported {
				t.Errorf("IssueCode = %q, want not-supported", IssueCode(err))
			}
		})
	}
}

func TestValidateTypeFilters(t *testing.T) {
	tests := []struct {
		name     string
		values   []string
		lenient  bool
		warnings int
		want     []error
	}{
		{"none", nil, false, 0, nil},
		{"good", []string{"Observation?status=final", "Condition?clinical-status=active"}, false, 0, nil},
		{"comma-joined", []string{"Observation?code=a,b,Condition?code=c"}, false, 0, nil},
		{"unsupported strict", []string{"Observation?colour=red"}, false, 0, []error{ErrUnsupported}},
		{"unsupported lenient", []string{"Observation?colour=red&status=final"}, true, 1, nil},
		{"malformed lenient", []string{"Observation?date=ge2020-99"}, true, 0, []error{ErrTypeFilter}},
		{"every problem", []string{"Observation?colour=red", "Nope?x=1"}, false, 0, []error{ErrUnsupported, ErrTypeFilter}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := ValidateTypeFilters(tt.values, tt.lenient)
			if len(w) != tt.warnings {
				t.Errorf("warnings = %q, want %d", w, tt.warnings)
			}
			if tt.want == nil && err != nil {
				t.Errorf("err = %v", err)
			}
			for _, want := range tt.want {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want it to wrap %v", err, want)
				}
			}
		})
	}
}

func TestLenientDropsOnlyTheUnsupportedParameter(t *testing.T) {
	fs, w, err := parseTypeFilters([]string{"Observation?status=final&colour=red"}, true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 1 || !strings.Contains(w[0], "colour") || !strings.Contains(w[0], "lenient") {
		t.Errorf("warnings = %q", w)
	}
	f := fs["Observation"][0]
	if !f.Match([]byte(obsVitals)) || f.Match([]byte(obsLab)) {
		t.Error("status=final is no longer applied")
	}
}

func TestSplitTypeFilters(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"one", "Observation?status=final", []string{"Observation?status=final"}},
		{"values keep their commas", "Observation?status=final,amended", []string{"Observation?status=final,amended"}},
		{"two queries", "MedicationRequest?status=active,MedicationRequest?status=completed&date=gt2018-07-01T00:00:00Z",
			[]string{"MedicationRequest?status=active", "MedicationRequest?status=completed&date=gt2018-07-01T00:00:00Z"}},
		{"encoded queries", "Observation%3Fstatus%3Dfinal,Condition%3Fcode%3Dx", []string{"Observation%3Fstatus%3Dfinal", "Condition%3Fcode%3Dx"}},
		{"a value that looks like a type", "Observation?code=Patient,Condition?code=x", []string{"Observation?code=Patient", "Condition?code=x"}},
		{"empty parts", ",Observation?status=final,", []string{"Observation?status=final,"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, SplitTypeFilters(tt.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseDateRange(t *testing.T) {
	us := func(s string) int64 {
		t.Helper()
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMicro()
	}
	tests := []struct {
		in     string
		lo, hi string
	}{
		{"2020", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"},
		{"2020-02", "2020-02-01T00:00:00Z", "2020-03-01T00:00:00Z"},
		{"2020-12", "2020-12-01T00:00:00Z", "2021-01-01T00:00:00Z"},
		{"2024-02-29", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"},
		{"2020-06-15T10:30Z", "2020-06-15T10:30:00Z", "2020-06-15T10:31:00Z"},
		{"2020-06-15T10:30:00-05:00", "2020-06-15T15:30:00Z", "2020-06-15T15:30:01Z"},
		{"2020-06-15T10:30:00.25+01:00", "2020-06-15T09:30:00.25Z", "2020-06-15T09:30:00.26Z"},
		{"2020-06-15T10:30:00", "2020-06-15T10:30:00Z", "2020-06-15T10:30:01Z"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, ok := parseDateRange(tt.in)
			if !ok {
				t.Fatal("not parsed")
			}
			if r.lo != us(tt.lo) || r.hi != us(tt.hi) {
				t.Errorf("got [%s, %s)", time.UnixMicro(r.lo).UTC(), time.UnixMicro(r.hi).UTC())
			}
		})
	}
	for _, bad := range []string{"", "20", "2020-1", "2020-13", "2023-02-29", "2020-01-01T", "2020-01-01T25:00Z", "2020-01-01T10:00:00+0100", "2020-01-01 10:00", "2020-01-01T10:00:00.Z", "２０２０"} {
		if _, ok := parseDateRange(bad); ok {
			t.Errorf("parseDateRange(%q) accepted", bad)
		}
	}
}

func TestDatePrefixes(t *testing.T) {
	// The search value is 2020 (a year); each target is a range.
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		prefix, target string
		want           bool
	}{
		{"eq", "2020-05-05", true}, {"eq", "2019-12-31", false},
		{"ne", "2019-12-31", true}, {"ne", "2020-05-05", false},
		{"gt", "2021-01-01", true}, {"gt", "2020-12-31", false},
		{"lt", "2019-12-31", true}, {"lt", "2020-01-01", false},
		{"ge", "2020-01-01", true}, {"ge", "2019-12-31", false},
		{"le", "2020-12-31", true}, {"le", "2021-01-01", false},
		{"sa", "2021-01-01", true}, {"sa", "2020-12-31", false},
		{"eb", "2019-12-31", true}, {"eb", "2020-01-01", false},
		{"ap", "2020-06-01", true}, {"ap", "2021-03-01", true}, {"ap", "2022-06-01", false},
	}
	for _, tt := range tests {
		t.Run(tt.prefix+" "+tt.target, func(t *testing.T) {
			qv, err := parseDateValue(tt.prefix + "2020")
			if err != nil {
				t.Fatal(err)
			}
			r, _ := parseDateRange(tt.target)
			if got := dateMatch(r, &qv, now); got != tt.want {
				t.Errorf("%s2020 vs %s = %v, want %v", tt.prefix, tt.target, got, tt.want)
			}
		})
	}
}

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Muñoz", "munoz"}, {"ZOË", "zoe"}, {"Łódź", "lodz"}, {"plain", "plain"}, {"ÆSIR", "æsir"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := fold(tt.in); got != tt.want {
				t.Errorf("fold(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !hasPrefixFold(tt.in, tt.want) {
				t.Errorf("hasPrefixFold(%q, %q) = false", tt.in, tt.want)
			}
		})
	}
}
