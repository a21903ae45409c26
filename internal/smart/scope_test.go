package smart_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/internal/smart"
)

func TestParseScopes(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // String() of the result
		wantErr error
	}{
		{name: "v1 wildcard", in: "system/*.read", want: "system/*.read"},
		{name: "v2 wildcard", in: "system/*.rs", want: "system/*.rs"},
		{name: "v1 and v2 types", in: "system/Patient.read  system/Observation.rs", want: "system/Patient.read system/Observation.rs"},
		{name: "duplicates once", in: "system/*.rs system/*.rs", want: "system/*.rs"},
		{name: "v2 read only", in: "system/Patient.r", want: "system/Patient.r"},
		{name: "v2 granular", in: "system/Observation.rs?category=laboratory", want: "system/Observation.rs?category=laboratory"},
		{name: "empty", in: "  ", wantErr: smart.ErrInvalidScope},
		{name: "v1 write", in: "system/*.write", wantErr: smart.ErrWriteScope},
		{name: "v1 star", in: "system/Patient.*", wantErr: smart.ErrWriteScope},
		{name: "v2 create", in: "system/*.cruds", wantErr: smart.ErrWriteScope},
		{name: "v2 update", in: "system/Patient.u", wantErr: smart.ErrWriteScope},
		{name: "v2 out of order", in: "system/*.sr", wantErr: smart.ErrInvalidScope},
		{name: "v2 repeated letter", in: "system/*.rr", wantErr: smart.ErrInvalidScope},
		{name: "patient scope", in: "patient/*.read", wantErr: smart.ErrInvalidScope},
		{name: "openid", in: "system/*.read openid", wantErr: smart.ErrInvalidScope},
		{name: "unknown type", in: "system/Patients.read", wantErr: smart.ErrInvalidScope},
		{name: "no permission", in: "system/Patient", wantErr: smart.ErrInvalidScope},
		{name: "query on v1", in: "system/Observation.read?category=laboratory", wantErr: smart.ErrInvalidScope},
		{name: "query on wildcard", in: "system/*.rs?category=laboratory", wantErr: smart.ErrInvalidScope},
		{name: "empty query", in: "system/Observation.rs?", wantErr: smart.ErrInvalidScope},
		{name: "unsupported query", in: "system/Observation.rs?nosuchparam=1", wantErr: smart.ErrInvalidScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := smart.ParseScopes(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseScopes(%q) error %v, want %v", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseScopes(%q): %v", tt.in, err)
			}
			if got.String() != tt.want {
				t.Errorf("ParseScopes(%q) = %q, want %q", tt.in, got.String(), tt.want)
			}
		})
	}
}

func TestScopesCovers(t *testing.T) {
	tests := []struct {
		name   string
		scopes string
		typ    string
		want   smart.Coverage
	}{
		{name: "wildcard", scopes: "system/*.read", typ: "Observation", want: smart.Coverage{Covered: true}},
		{name: "other type", scopes: "system/Patient.read", typ: "Observation", want: smart.Coverage{}},
		{name: "same type", scopes: "system/Patient.rs", typ: "Patient", want: smart.Coverage{Covered: true}},
		{name: "search only", scopes: "system/Patient.s", typ: "Patient", want: smart.Coverage{}},
		{name: "granular", scopes: "system/Observation.rs?category=laboratory system/Observation.rs?category=vital-signs", typ: "Observation",
			want: smart.Coverage{Covered: true, Queries: []string{"Observation?category=laboratory", "Observation?category=vital-signs"}}},
		{name: "granular and whole", scopes: "system/Observation.rs?category=laboratory system/*.rs", typ: "Observation",
			want: smart.Coverage{Covered: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss, err := smart.ParseScopes(tt.scopes)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ss.Covers(tt.typ)); diff != "" {
				t.Errorf("Covers(%s) (-want +got):\n%s", tt.typ, diff)
			}
		})
	}
}

func TestScopesWithin(t *testing.T) {
	tests := []struct {
		name, asked, allowed string
		ok                   bool
	}{
		{name: "same", asked: "system/*.read", allowed: "system/*.read", ok: true},
		{name: "v2 within v1", asked: "system/*.rs", allowed: "system/*.read", ok: true},
		{name: "v1 within v2", asked: "system/*.read", allowed: "system/*.rs", ok: true},
		{name: "type within wildcard", asked: "system/Patient.rs", allowed: "system/*.read", ok: true},
		{name: "narrower permission", asked: "system/Patient.r", allowed: "system/Patient.rs", ok: true},
		{name: "granular within type", asked: "system/Observation.rs?category=laboratory", allowed: "system/Observation.read", ok: true},
		{name: "wildcard beyond type", asked: "system/*.rs", allowed: "system/Patient.rs"},
		{name: "wider permission", asked: "system/Patient.rs", allowed: "system/Patient.r"},
		{name: "type beyond granular", asked: "system/Observation.rs", allowed: "system/Observation.rs?category=laboratory"},
		{name: "other granular", asked: "system/Observation.rs?category=vital-signs", allowed: "system/Observation.rs?category=laboratory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked, err1 := smart.ParseScopes(tt.asked)
			allowed, err2 := smart.ParseScopes(tt.allowed)
			if err := errors.Join(err1, err2); err != nil {
				t.Fatal(err)
			}
			err := asked.Within(allowed)
			if tt.ok != (err == nil) {
				t.Errorf("%q within %q: %v, want ok=%v", tt.asked, tt.allowed, err, tt.ok)
			}
			if err != nil && !errors.Is(err, smart.ErrInvalidScope) {
				t.Errorf("error %v does not wrap ErrInvalidScope", err)
			}
		})
	}
}
