package fhirstore_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/fhirstore"
	"github.com/jetexport/jetexport/internal/natstest"
)

func scanAll(tb testing.TB, a *broker.Assets, spec fhirstore.ScanSpec, during func(i int)) []fhirstore.Record {
	tb.Helper()
	ctx := context.Background()
	s, err := fhirstore.OpenScan(ctx, a.JS, spec)
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	var out []fhirstore.Record
	for {
		r, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		if during != nil {
			during(len(out))
		}
		out = append(out, r)
	}
}

func TestScanIsASnapshot(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	ctx := context.Background()
	tn := events.TenantOf("acme", events.ModeTest)
	key := func(i int) string { return events.RecordKey(tn, "Patient", fmt.Sprintf("p%d", i)) }
	put := func(i int, v string) {
		if _, err := a.FHIR.Put(ctx, key(i), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3000 {
		put(i, fmt.Sprintf(`{"v":"old-%d"}`, i))
	}
	bound, err := fhirstore.SnapshotSeq(ctx, a.JS)
	if err != nil {
		t.Fatal(err)
	}
	// After the snapshot: updates, deletes and new records, before the scan
	// opens and while it runs.
	for i := 0; i < 3000; i += 10 {
		put(i, fmt.Sprintf(`{"v":"new-%d"}`, i))
	}
	for i := 5; i < 3000; i += 100 {
		if err := a.FHIR.Delete(ctx, key(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 3000; i < 3100; i++ {
		put(i, `{"v":"created-later"}`)
	}
	during := func(n int) {
		if n%7 == 0 {
			put((n*13)%3000, `{"v":"during"}`)
		}
	}
	spec := fhirstore.ScanSpec{Tenant: tn, Types: []string{"Patient"}, UpTo: bound}
	got := scanAll(t, a, spec, during)
	if len(got) != 3000 {
		t.Fatalf("scan returned %d records, want the 3000 of the snapshot", len(got))
	}
	seen := map[string]bool{}
	for i, r := range got {
		if i > 0 && r.Seq <= got[i-1].Seq {
			t.Fatalf("record %d out of sequence order", i)
		}
		if r.Seq > bound {
			t.Errorf("record at seq %d is after the snapshot %d", r.Seq, bound)
		}
		if seen[string(r.Data)] {
			t.Errorf("%s twice", r.Data)
		}
		seen[string(r.Data)] = true
	}
	for i := range 3000 {
		if !seen[fmt.Sprintf(`{"v":"old-%d"}`, i)] {
			t.Errorf("p%d missing in its snapshot version", i)
		}
	}
	// The same spec again, resumed after the 1000th record, returns exactly
	// the rest, in the same order.
	spec.After = map[string]uint64{"Patient": got[999].Seq}
	rest := scanAll(t, a, spec, nil)
	if len(rest) != 2000 || rest[0].Seq != got[1000].Seq || rest[1999].Seq != got[2999].Seq {
		t.Errorf("resumed scan: %d records, want the last 2000 of the first scan", len(rest))
	}
}

func TestScanSinceAndDeletes(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	ctx := context.Background()
	tn := events.TenantOf("acme", events.ModeTest)
	for i := range 10 {
		if _, err := a.FHIR.Put(ctx, events.RecordKey(tn, "Condition", fmt.Sprint(i)), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	since := time.Now()
	for i := range 3 {
		if _, err := a.FHIR.Put(ctx, events.RecordKey(tn, "Condition", fmt.Sprint(i)), []byte(`{"u":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.FHIR.Delete(ctx, events.RecordKey(tn, "Condition", "9")); err != nil {
		t.Fatal(err)
	}
	bound, _ := fhirstore.SnapshotSeq(ctx, a.JS)
	if n := len(scanAll(t, a, fhirstore.ScanSpec{Tenant: tn, Types: []string{"Condition"}, UpTo: bound}, nil)); n != 9 {
		t.Errorf("all: %d records, want 9 (one deleted)", n)
	}
	if n := len(scanAll(t, a, fhirstore.ScanSpec{Tenant: tn, Types: []string{"Condition"}, UpTo: bound, Since: &since}, nil)); n != 3 {
		t.Errorf("since: %d records, want the 3 updated", n)
	}
	if n, err := fhirstore.CountKeys(ctx, a.JS, tn, "Condition"); err != nil || n != 10 {
		t.Errorf("CountKeys = %d, %v; want 10", n, err)
	}
}

// One scan over several types returns exactly the records the per-type
// scans return, merged in sequence order and each under its type, in their
// snapshot versions; resumed with a cursor per type, it returns exactly
// what the per-type scans resumed at those cursors return.
func TestScanSeveralTypesInOnePass(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	ctx := context.Background()
	tn := events.TenantOf("acme", events.ModeTest)
	types := []string{"Patient", "Encounter", "Observation"}
	put := func(typ string, i int, v string) {
		t.Helper()
		if _, err := a.FHIR.Put(ctx, events.RecordKey(tn, typ, fmt.Sprint(i)), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	// Interleaved as patients are loaded: one Patient, then 2 Encounters
	// and 7 Observations; and a type the scan does not ask for.
	for p := range 300 {
		put("Patient", p, fmt.Sprintf(`{"p":%d}`, p))
		put("Condition", p, `{}`)
		for e := range 2 {
			put("Encounter", p*2+e, fmt.Sprintf(`{"e":%d}`, p*2+e))
		}
		for o := range 7 {
			put("Observation", p*7+o, fmt.Sprintf(`{"o":%d}`, p*7+o))
		}
	}
	if err := a.FHIR.Delete(ctx, events.RecordKey(tn, "Encounter", "5")); err != nil {
		t.Fatal(err)
	}
	bound, err := fhirstore.SnapshotSeq(ctx, a.JS)
	if err != nil {
		t.Fatal(err)
	}
	// Changed after the snapshot: the scans must return the old versions.
	for i := 0; i < 2100; i += 50 {
		put("Observation", i, `{"changed":true}`)
	}
	put("Patient", 0, `{"changed":true}`)
	put("Patient", 999, `{"created":"later"}`)

	var want []fhirstore.Record
	for _, typ := range types {
		want = append(want, scanAll(t, a, fhirstore.ScanSpec{Tenant: tn, Types: []string{typ}, UpTo: bound}, nil)...)
	}
	slices.SortFunc(want, func(a, b fhirstore.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	if len(want) != 300+599+2100 {
		t.Fatalf("the per-type scans returned %d records, want 2999", len(want))
	}
	spec := fhirstore.ScanSpec{Tenant: tn, Types: types, UpTo: bound}
	got := scanAll(t, a, spec, nil)
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Fatalf("one pass differs from the per-type scans merged (-want +got):\n%s", diff)
	}
	for _, r := range got {
		if bytes.Contains(r.Data, []byte("changed")) || bytes.Contains(r.Data, []byte("later")) {
			t.Errorf("%s at seq %d is not its snapshot version", r.Data, r.Seq)
		}
	}

	// Resume with a cursor per type: Patient far along, Encounter early,
	// Observation not started.
	after := map[string]uint64{"Patient": got[2500].Seq, "Encounter": got[100].Seq}
	var wantRest []fhirstore.Record
	for _, r := range got {
		if r.Seq > after[r.Type] {
			wantRest = append(wantRest, r)
		}
	}
	spec.After = after
	var progress atomic.Int64
	spec.Progress = &progress
	s, err := fhirstore.OpenScan(ctx, a.JS, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var rest []fhirstore.Record
	for {
		r, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rest = append(rest, r)
	}
	if diff := gocmp.Diff(wantRest, rest); diff != "" {
		t.Errorf("resumed pass (-want +got):\n%s", diff)
	}
	// Progress counts the records skipped by the cursors too: a resumed
	// scan shows life while it passes over what was already exported.
	if progress.Load() != int64(len(got)) {
		t.Errorf("progress %d, want every record read: %d", progress.Load(), len(got))
	}
	for _, typ := range types {
		n := int64(0)
		for _, r := range wantRest {
			if r.Type == typ {
				n++
			}
		}
		if s.Scanned(typ) != n {
			t.Errorf("Scanned(%s) = %d, want %d", typ, s.Scanned(typ), n)
		}
	}
}
