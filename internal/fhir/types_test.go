package fhir

import (
	"slices"
	"testing"
)

func TestResourceTypes(t *testing.T) {
	got := ResourceTypes()
	if len(got) != 146 {
		t.Errorf("got %d resource types, want the 146 of FHIR R4 4.0.1", len(got))
	}
	if !slices.IsSorted(got) {
		t.Error("ResourceTypes is not sorted")
	}
	got[0] = "changed"
	if ResourceTypes()[0] != "Account" {
		t.Error("ResourceTypes returned the package's own slice")
	}
}

func TestIsResourceType(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"first", "Account", true},
		{"last", "VisionPrescription", true},
		{"patient", "Patient", true},
		{"bundle", "Bundle", true},
		{"binary", "Binary", true},
		{"parameters", "Parameters", true},
		{"group", "Group", true},
		{"operation outcome", "OperationOutcome", true},
		{"lower case", "patient", false},
		{"abstract Resource", "Resource", false},
		{"abstract DomainResource", "DomainResource", false},
		{"R5 only", "SubscriptionTopic", false},
		{"empty", "", false},
		{"padded", " Patient", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsResourceType(tt.in); got != tt.want {
				t.Errorf("IsResourceType(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
