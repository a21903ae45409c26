package events_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/events"
)

func TestValidCustomer(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"letters", "acme", true},
		{"digits and hyphen", "st-mary-2", true},
		{"one character", "a", true},
		{"starts with a digit", "1clinic", true},
		{"40 characters", strings.Repeat("a", 40), true},
		{"41 characters", strings.Repeat("a", 41), false},
		{"empty", "", false},
		{"starts with a hyphen", "-acme", false},
		{"upper case", "Acme", false},
		{"underscore, the mode separator", "acme_x", false},
		{"dot, the subject separator", "acme.x", false},
		{"wildcards", "acme*", false},
		{"space", "ac me", false},
		{"trailing newline", "acme\n", false},
		{"non-ASCII", "acmé", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := events.ValidCustomer(tt.in); got != tt.want {
				t.Errorf("ValidCustomer(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestTenant(t *testing.T) {
	tests := []struct {
		name         string
		tenant       events.Tenant
		valid        bool
		wantCustomer string
		wantMode     events.Mode
	}{
		{"test mode", events.TenantOf("acme", events.ModeTest), true, "acme", events.ModeTest},
		{"live mode", events.TenantOf("acme", events.ModeLive), true, "acme", events.ModeLive},
		{"hyphenated customer", "st-mary_live", true, "st-mary", events.ModeLive},
		{"no mode", "acme", false, "acme", ""},
		{"unknown mode", "acme_prod", false, "acme", "prod"},
		{"upper-case mode", "acme_TEST", false, "acme", "TEST"},
		{"empty customer", "_test", false, "", events.ModeTest},
		{"two separators", "acme_test_live", false, "acme", "test_live"},
		{"empty", "", false, "", ""},
		{"dot in customer", "ac.me_test", false, "ac.me", events.ModeTest},
		{"wildcard", ">_test", false, ">", events.ModeTest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.tenant.Valid(); got != tt.valid {
				t.Errorf("Tenant(%q).Valid() = %v, want %v", tt.tenant, got, tt.valid)
			}
			if got := tt.tenant.Customer(); got != tt.wantCustomer {
				t.Errorf("Customer() = %q, want %q", got, tt.wantCustomer)
			}
			if got := tt.tenant.Mode(); got != tt.wantMode {
				t.Errorf("Mode() = %q, want %q", got, tt.wantMode)
			}
		})
	}
	if got := events.TenantOf("acme", events.ModeTest); got != "acme_test" {
		t.Errorf(`TenantOf("acme", test) = %q, want "acme_test"`, got)
	}
}

func TestSubjectRoundTrip(t *testing.T) {
	for _, tenant := range []events.Tenant{"acme_test", "st-mary_live"} {
		for _, k := range events.Kinds() {
			t.Run(string(tenant)+"/"+string(k), func(t *testing.T) {
				s := events.Subject(tenant, testJobID, k)
				if want := "bulk." + string(tenant) + "." + testJobID + "." + string(k); s != want {
					t.Errorf("Subject = %q, want %q", s, want)
				}
				gotT, gotJob, gotK, err := events.ParseSubject(s)
				if err != nil {
					t.Fatalf("ParseSubject(%q): %v", s, err)
				}
				if gotT != tenant || gotJob != testJobID || gotK != k {
					t.Errorf("ParseSubject(%q) = %q, %q, %q", s, gotT, gotJob, gotK)
				}
				if !strings.HasPrefix(s, strings.TrimSuffix(events.JobSubjects(tenant, testJobID), ">")) {
					t.Errorf("%q is not under JobSubjects %q", s, events.JobSubjects(tenant, testJobID))
				}
				if !strings.HasPrefix(s, strings.TrimSuffix(events.AllSubjects, ">")) {
					t.Errorf("%q is not under AllSubjects %q", s, events.AllSubjects)
				}
			})
		}
	}
}

func TestSubjectPatterns(t *testing.T) {
	tests := []struct{ name, got, want string }{
		{"job subjects", events.JobSubjects(testTenant, testJobID), "bulk.acme_test." + testJobID + ".>"},
		{"kind subjects", events.KindSubjects(events.KindRequested), "bulk.*.*.requested"},
		{"all subjects", events.AllSubjects, "bulk.>"},
		{"event subject", sampleEvent(events.KindChunk).Subject(), "bulk.acme_test." + testJobID + ".chunk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestParseSubjectErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{name: "empty", in: ""},
		{name: "three tokens", in: "bulk.acme_test." + testJobID},
		{name: "five tokens", in: "bulk.acme_test." + testJobID + ".chunk.1"},
		{name: "other root", in: "jobs.acme_test." + testJobID + ".requested"},
		{name: "KV subject", in: "$KV.jobs.acme_test." + testJobID},
		{name: "empty tokens", in: "bulk...requested"},
		{name: "invalid tenant", in: "bulk.ACME." + testJobID + ".requested"},
		{name: "unknown kind", in: "bulk.acme_test." + testJobID + ".paused"},
		{name: "wildcard job id", in: "bulk.acme_test.*.requested"},
		{name: "wildcard kind", in: "bulk.acme_test." + testJobID + ".>"},
		{name: "job id not a ULID", in: "bulk.acme_test.job_X.requested"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tn, job, k, err := events.ParseSubject(tt.in); err == nil {
				t.Errorf("ParseSubject(%q) = %q, %q, %q, nil; want an error", tt.in, tn, job, k)
			}
		})
	}
}

func TestValidJobID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"job and a ULID", testJobID, true},
		{"lower-case ULID", strings.ToLower(testJobID), true},
		{"no prefix", strings.TrimPrefix(testJobID, "job_"), false},
		{"other prefix", "exp_" + strings.TrimPrefix(testJobID, "job_"), false},
		{"25 characters", testJobID[:len(testJobID)-1], false},
		{"27 characters", testJobID + "A", false},
		{"placeholder", "job_X", false},
		{"dot", testJobID[:len(testJobID)-1] + ".", false},
		{"wildcard", testJobID[:len(testJobID)-1] + ">", false},
		{"hyphenated UUID", "job_0195e1f2-7c4a-7d1b-9c2e-3f4a5b6c7d8e", false},
		{"trailing newline", testJobID + "\n", false},
		{"path traversal", "job_../../../etc/passwd/....", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := events.ValidJobID(tt.in); got != tt.want {
				t.Errorf("ValidJobID(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestKeysAndObjectNames(t *testing.T) {
	tests := []struct{ name, got, want string }{
		{"job key", events.JobKey(testTenant, testJobID), "acme_test." + testJobID},
		{"record key", events.RecordKey(testTenant, "Patient", "p-1"), "acme_test.Patient.p-1"},
		{"object name", events.ObjectName(testTenant, testJobID, "Observation", 12), "acme_test/" + testJobID + "/Observation.12.ndjson"},
		{"object prefix", events.ObjectPrefix(testTenant, testJobID), "acme_test/" + testJobID + "/"},
		{"msg id of a once-per-job event", events.MsgID(testJobID, events.KindRequested, ""), testJobID + "/requested"},
		{"msg id of a part", events.MsgID(testJobID, events.KindChunk, "Patient.3"), testJobID + "/chunk/Patient.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
	name := events.ObjectName(testTenant, testJobID, "Patient", 1)
	if !strings.HasPrefix(name, events.ObjectPrefix(testTenant, testJobID)) {
		t.Errorf("object %q is not under its job's prefix", name)
	}
	if other := events.ObjectPrefix("acme_live", testJobID); strings.HasPrefix(name, other) {
		t.Errorf("test-mode object %q is under the live tenant's prefix %q", name, other)
	}
}

func TestKinds(t *testing.T) {
	var gotTypes []string
	for _, k := range events.Kinds() {
		gotTypes = append(gotTypes, k.Type())
	}
	want := []string{"ExportRequested", "ExportStarted", "ExportTaskQueued", "ChunkWritten", "ExportTaskFinished",
		"ExportCompleted", "ExportFailed", "ExportCancelRequested", "ExportCancelled", "ExportExpired", "WebhookAttempted"}
	if diff := cmp.Diff(want, gotTypes); diff != "" {
		t.Errorf("kinds' type names (-want +got):\n%s", diff)
	}
	for _, k := range events.Kinds() {
		if _, ok := sampleNumber[k]; !ok {
			t.Errorf("kind %q has no sample: add it to sampleEvent and sampleNumber, then run go test ./events -update", k)
		}
	}
	if got := events.Kind("paused").Type(); got != "" {
		t.Errorf("unknown kind has type name %q", got)
	}
	for _, k := range events.Kinds() {
		if e := sampleEvent(k); e.Kind() != k || e.Data.Kind() != k {
			t.Errorf("sample of %q has kind %q", k, e.Kind())
		}
	}
}

func TestNew(t *testing.T) {
	local := time.Date(2025, 3, 14, 10, 26, 53, 0, time.FixedZone("CET", 3600))
	e := events.New("evt-1", local, testTenant, testJobID, cancelReq())
	want := events.Event{Type: "ExportCancelRequested", Version: events.Version, ID: "evt-1", Time: t0,
		Tenant: testTenant, JobID: testJobID, Data: cancelReq()}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("New (-want +got):\n%s", diff)
	}
	if e.Time.Location() != time.UTC {
		t.Errorf("New kept location %s, want UTC", e.Time.Location())
	}
}

// FuzzParseSubject checks that ParseSubject never panics and that whatever
// it accepts is the subject Subject builds from the parts.
func FuzzParseSubject(f *testing.F) {
	for _, k := range events.Kinds() {
		f.Add(events.Subject(testTenant, testJobID, k))
	}
	for _, s := range []string{"", ".", "bulk", "bulk.>", "bulk...", "bulk.a.b.c.d", "$KV.jobs.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tenant, job, k, err := events.ParseSubject(s)
		if err != nil {
			return
		}
		if got := events.Subject(tenant, job, k); got != s {
			t.Fatalf("ParseSubject(%q) = %q, %q, %q, which Subject writes as %q", s, tenant, job, k, got)
		}
	})
}
