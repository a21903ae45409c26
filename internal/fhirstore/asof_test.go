package fhirstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/internal/fhir"
)

func TestGetAsOf(t *testing.T) {
	s, a, _ := newStore(t)
	ctx := testContext(t)
	seq := func() uint64 {
		t.Helper()
		n, err := SnapshotSeq(ctx, a.JS)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	put := func(body string) {
		t.Helper()
		if _, err := s.Put(ctx, tenant, "Patient", "p1", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Put(ctx, tenant, "Patient", "p0", []byte(`{"resourceType":"Patient"}`)); err != nil {
		t.Fatal(err)
	}
	before := seq()
	put(`{"resourceType":"Patient","gender":"female"}`)
	v1 := seq()
	put(`{"resourceType":"Patient","gender":"male"}`)
	v2 := seq()
	// Another record's writes move the stream on without touching p1.
	if _, err := s.Put(ctx, tenant, "Patient", "p2", []byte(`{"resourceType":"Patient"}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, tenant, "Patient", "p1"); err != nil {
		t.Fatal(err)
	}
	deleted := seq()

	tests := []struct {
		name    string
		seq     uint64
		gender  string
		wantErr error
	}{
		{"before it existed", before, "", ErrNotFound},
		{"first version", v1, "female", nil},
		{"second version", v2, "male", nil},
		{"between writes", v2 + 1, "male", nil},
		{"deleted", deleted, "", ErrDeleted},
		{"sequence 0: the empty stream", 0, "", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := GetAsOf(ctx, a.JS, tenant, "Patient", "p1", tt.seq)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(got), `"gender":"`+tt.gender+`"`) {
				t.Errorf("got %s, want gender %s", got, tt.gender)
			}
		})
	}
	if _, err := GetAsOf(ctx, a.JS, "other_test", "Patient", "p1", v2); !errors.Is(err, ErrNotFound) {
		t.Errorf("another tenant: err = %v, want ErrNotFound", err)
	}
	for _, bad := range [][2]string{{"patient", "p1"}, {"Patient", "a b"}, {"Patient", "a..b"}} {
		if _, err := GetAsOf(ctx, a.JS, tenant, bad[0], bad[1], v2); !errors.Is(err, ErrInvalid) {
			t.Errorf("GetAsOf(%q, %q): err = %v, want ErrInvalid", bad[0], bad[1], err)
		}
	}
}

func TestGroupMembers(t *testing.T) {
	tests := []struct {
		name    string
		group   string
		want    []string
		wantErr error
	}{
		{"urn:uuid members", `{"resourceType":"Group","member":[{"entity":{"reference":"urn:uuid:62247e85-c8c1-4047-90b3-e0b3a9c59600"}},{"entity":{"reference":"urn:uuid:a1"}}]}`,
			[]string{"62247e85-c8c1-4047-90b3-e0b3a9c59600", "a1"}, nil},
		{"relative, absolute, versioned", `{"resourceType":"Group","member":[{"entity":{"reference":"Patient/p1"}},{"entity":{"reference":"https://x.example/fhir/Patient/p2"}},{"entity":{"reference":"Patient/p3/_history/4"}}]}`,
			[]string{"p1", "p2", "p3"}, nil},
		{"duplicates once", `{"resourceType":"Group","member":[{"entity":{"reference":"Patient/p1"}},{"entity":{"reference":"urn:uuid:p1"}}]}`, []string{"p1"}, nil},
		{"other types and inactive left out", `{"resourceType":"Group","member":[{"entity":{"reference":"Practitioner/d"}},{"entity":{"reference":"Patient/p1"},"inactive":true},{"entity":{"reference":"#c"}},{"entity":{}}]}`,
			[]string{}, nil},
		{"no members", `{"resourceType":"Group","type":"person","actual":true}`, []string{}, nil},
		{"not a group", `{"resourceType":"Patient","id":"p"}`, nil, ErrNotGroup},
		{"not JSON", `{"resourceType":"Group"`, nil, ErrInvalid},
		{"wrong shape", `{"resourceType":"Group","member":{"entity":1}}`, nil, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := GroupMembers([]byte(tt.group))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestFixtureGroup stores the 100-patient fixture's Group as the loader does
// (Put of the bare resource), reads it back as of the snapshot, and checks
// that its 100 members are the fixture's patients: the stored form keeps
// urn:uuid: references, which GroupMembers reads as patient ids.
func TestFixtureGroup(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "fixtures", "synthea-r4-100", "bundles")
	groups, _ := filepath.Glob(filepath.Join(dir, "groupInformation*.json"))
	if len(groups) != 1 {
		t.Skipf("fixtures absent: no Group in %s (they live beside the repository, not in it)", dir)
	}
	body, err := os.ReadFile(groups[0])
	if err != nil {
		t.Fatal(err)
	}
	r, err := fhir.ParseResource(body)
	if err != nil {
		t.Fatal(err)
	}
	s, a, _ := newStore(t)
	ctx := testContext(t)
	if _, err := s.Put(ctx, tenant, "Group", r.ID, body); err != nil {
		t.Fatal(err)
	}
	snap, err := SnapshotSeq(ctx, a.JS)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := GetAsOf(ctx, a.JS, tenant, "Group", r.ID, snap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(stored), `"reference":"urn:uuid:`) {
		t.Errorf("the stored Group no longer holds urn:uuid: references; GroupMembers' documentation is out of date")
	}
	members, err := GroupMembers(stored)
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 100 {
		t.Fatalf("%d members, want 100", len(members))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	patients := map[string]bool{}
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".json")
		patients[base[strings.LastIndexByte(base, '_')+1:]] = true
	}
	for _, id := range members {
		if !patients[id] {
			t.Errorf("member %s is not a fixture patient", id)
		}
	}
	patientMembers, err := fhir.CompartmentPatients("Group", stored)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(members, patientMembers); diff != "" {
		t.Errorf("the Group's compartment differs from its members (-members +compartment):\n%s", diff)
	}
}

// FuzzGroupMembers checks that any stored Group, however odd, gives valid
// patient ids or an error, never a panic.
func FuzzGroupMembers(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Group","member":[{"entity":{"reference":"urn:uuid:a1"}},{"entity":{"reference":"Patient/p1"}}]}`,
		`{"resourceType":"Group","member":[{"entity":{"reference":"https://x/fhir/Patient/p2/_history/1"},"inactive":false}]}`,
		`{"resourceType":"Group","member":null}`, `{"resourceType":"Group","member":[{}]}`, `[]`, `null`, ``,
		`{"resourceType":"Group","member":[{"entity":{"reference":"urn:uuid:"}},{"entity":{"reference":"Patient/"}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, group []byte) {
		members, err := GroupMembers(group)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNotGroup) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		for _, id := range members {
			if !fhir.ValidID(id) {
				t.Fatalf("member %q is not a FHIR id", id)
			}
		}
	})
}
