package fhir

import (
	"strings"

	"github.com/oklog/ulid/v2"
)

// MaxIDLength is the longest id FHIR allows.
const MaxIDLength = 64

// ValidID reports whether id is a FHIR id: 1 to 64 characters, each an
// ASCII letter, digit, '-' or '.'.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > MaxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

// NewID mints the id of a resource created without one: a ULID in lower
// case (26 characters, for example "01jdq3v7k2x9m4r8t6w1y5z0ab"). ULIDs sort
// by creation time, so records created together sit together in the store,
// and they are safe to mint from many goroutines at once.
func NewID() string { return strings.ToLower(ulid.Make().String()) }
