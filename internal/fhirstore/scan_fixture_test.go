package fhirstore_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/fhir"
	"github.com/jetexport/jetexport/internal/fhirstore"
	"github.com/jetexport/jetexport/internal/natstest"
)

// Every type of the 100-patient fixture scans to its end: each distinct
// record once, 38,473 in all, and no scan waits for a message that never
// comes.
func TestScanFixtureEveryType(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "fixtures", "synthea-r4-100", "bundles")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Skip("../shared/fixtures/synthea-r4-100 is absent (a fresh clone has no ../shared)")
	}
	if testing.Short() {
		t.Skip("loads 38,971 resources")
	}
	a := natstest.Assets(t, broker.Config{})
	ctx := context.Background()
	tn := events.TenantOf("acme", events.ModeTest)
	store := fhirstore.New(a.FHIR, a.JS, time.Now)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fhir.ParseBundle(b); err != nil {
			r, err := fhir.ParseResource(b)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if _, err := store.Put(ctx, tn, r.Type, r.ID, b); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := store.ApplyBundle(ctx, tn, b); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	bound, err := fhirstore.SnapshotSeq(ctx, a.JS)
	if err != nil {
		t.Fatal(err)
	}
	total, perType := 0, map[string]int{}
	for _, typ := range fhir.ResourceTypes() {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		s, err := fhirstore.OpenScan(sctx, a.JS, fhirstore.ScanSpec{Tenant: tn, Types: []string{typ}, UpTo: bound})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			_, err := s.Next(sctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s after %d records (scanned %d): %v", typ, n, s.Scanned(typ), err)
			}
			n++
		}
		s.Close()
		cancel()
		total += n
		if n > 0 {
			perType[typ] = n
		}
	}
	if total != 38473 {
		t.Errorf("scanned %d records, want 38,473", total)
	}
	// One pass over every type at once (one filter per type) returns the
	// same records, each under its own type.
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s, err := fhirstore.OpenScan(sctx, a.JS, fhirstore.ScanSpec{Tenant: tn, Types: fhir.ResourceTypes(), UpTo: bound})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	onePass := map[string]int{}
	for {
		r, err := s.Next(sctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("one pass: %v", err)
		}
		onePass[r.Type]++
	}
	if diff := cmp.Diff(perType, onePass); diff != "" {
		t.Errorf("one pass over every type differs from a pass per type (-per type +one pass):\n%s", diff)
	}
}
