package fhir

import (
	"os"
	"testing"
	"time"
)

// BenchmarkParseBundle measures what the store does to each Synthea Bundle
// before writing it: parse, rewrite references, stamp every resource.
func BenchmarkParseBundle(b *testing.B) {
	var bodies [][]byte
	size := 0
	for _, f := range syntheaFiles(b) {
		body, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, body)
		size += len(body)
	}
	at := time.Now()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for _, body := range bodies {
			bundle, err := ParseBundle(body)
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range bundle.Entries {
				e.Resource.Stamp(e.ID, "1", at)
			}
		}
	}
}
