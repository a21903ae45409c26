package fhir

import (
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"uuid", "6c5d9ca9-54d7-42f5-bfae-a7c19cd217f2", true},
		{"dots", "a.b.c", true},
		{"one char", "x", true},
		{"64 chars", strings.Repeat("a", 64), true},
		{"65 chars", strings.Repeat("a", 65), false},
		{"empty", "", false},
		{"space", "a b", false},
		{"underscore", "a_b", false},
		{"slash", "a/b", false},
		{"non-ASCII", "é", false},
		{"wildcard", "a*", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidID(tt.in); got != tt.want {
				t.Errorf("ValidID(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !ValidID(id) || len(id) != 26 || strings.ToLower(id) != id {
			t.Fatalf("NewID() = %q, want a lower-case 26-character ULID", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}
