package fhir

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkSelectionApply measures what the exporter does per record of a
// Group-level export of 100 members with _typeFilter and _elements, over
// the records of the Synthea bundles (mostly Observations, 1-3 KB each).
// It reports records/s; the exporter needs about 100,000.
func BenchmarkSelectionApply(b *testing.B) {
	type rec struct {
		typ string
		raw []byte
	}
	var recs []rec
	var members []string
	size := 0
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for id, entries := range syntheaRecords(b) {
		members = append(members, id)
		for _, e := range entries {
			raw := e.Resource.Stamp(e.ID, "1", at) // as the store keeps it
			recs = append(recs, rec{e.Type, raw})
			size += len(raw)
		}
	}
	for i := len(members); i < 100; i++ {
		members = append(members, fmt.Sprintf("00000000-0000-0000-0000-%012d", i))
	}
	specs := []struct {
		name string
		spec SelectionSpec
	}{
		{"compartment+filter+elements", SelectionSpec{
			Level:    LevelGroup,
			Patients: members,
			TypeFilters: []string{
				"Observation?category=vital-signs,laboratory&date=ge2000-01-01",
				"Condition?clinical-status=active,resolved",
				"Encounter?class=AMB&date=ge2010",
			},
			Elements: []string{"id,subject,status,code,value,effective", "Patient.name,Patient.birthDate"},
		}},
		{"compartment", SelectionSpec{Level: LevelGroup, Patients: members}},
		{"filter", SelectionSpec{TypeFilters: []string{"Observation?category=vital-signs,laboratory&date=ge2000-01-01"}}},
		{"elements", SelectionSpec{Elements: []string{"id,subject,status,code,value,effective"}}},
	}
	for _, sc := range specs {
		b.Run(sc.name, func(b *testing.B) {
			s, _, err := NewSelection(sc.spec)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			kept := 0
			for b.Loop() {
				kept = 0
				for _, r := range recs {
					_, keep, err := s.Apply(r.typ, r.raw)
					if err != nil {
						b.Fatal(err)
					}
					if keep {
						kept++
					}
				}
			}
			b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(kept), "kept")
		})
	}
}
