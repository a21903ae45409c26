package fhirstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
)

// A scan whose consumer is recreated under it (as when its server fails
// over: here the consumer is deleted) reopens itself and goes on exactly
// where it was: the same records, in the same order, as a scan left alone,
// snapshot versions of keys changed after the bound included.
func TestScanReopensAfterItsConsumerIsRecreated(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	ctx := context.Background()
	tn := events.TenantOf("acme", events.ModeTest)
	put := func(typ string, i int, v string) {
		t.Helper()
		if _, err := a.FHIR.Put(ctx, events.RecordKey(tn, typ, fmt.Sprint(i)), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2500 {
		put("Patient", i, fmt.Sprintf(`{"p":%d}`, i))
		put("Observation", i, fmt.Sprintf(`{"o":%d}`, i))
	}
	bound, err := SnapshotSeq(ctx, a.JS)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2500; i += 100 {
		put("Observation", i, `{"changed":true}`)
	}
	spec := ScanSpec{Tenant: tn, Types: []string{"Patient", "Observation"}, UpTo: bound}
	read := func(interrupt func(s *Scan, n int)) ([]Record, *Scan) {
		t.Helper()
		s, err := OpenScan(ctx, a.JS, spec)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		var out []Record
		for {
			r, err := s.Next(ctx)
			if errors.Is(err, io.EOF) {
				return out, s
			}
			if err != nil {
				t.Fatalf("after %d records: %v", len(out), err)
			}
			out = append(out, r)
			if interrupt != nil {
				interrupt(s, len(out))
			}
		}
	}
	want, _ := read(nil)
	if len(want) != 5000 {
		t.Fatalf("an uninterrupted scan returned %d records, want 5000", len(want))
	}
	got, s := read(func(s *Scan, n int) {
		if n == 2600 {
			if err := a.JS.DeleteConsumer(ctx, fhirStream, s.name); err != nil {
				t.Fatalf("delete the scan's consumer: %v", err)
			}
		}
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the interrupted scan differs (-want +got):\n%s", diff)
	}
	if s.reopens != 1 {
		t.Errorf("reopened %d times, want 1", s.reopens)
	}
	if n := s.Scanned("Patient") + s.Scanned("Observation"); n != 5000 {
		t.Errorf("scanned %d, want each record counted once: 5000", n)
	}
}
