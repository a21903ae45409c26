package fhirstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/fhir"
	"github.com/jetexport/jetexport/internal/natsserver"
	"github.com/jetexport/jetexport/internal/natstest"
)

// response is the part of a response Bundle the tests read.
type response struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		Response struct {
			Status   string          `json:"status"`
			Location string          `json:"location"`
			Outcome  json.RawMessage `json:"outcome"`
		} `json:"response"`
	} `json:"entry"`
}

func decodeResponse(tb testing.TB, b []byte) response {
	tb.Helper()
	var r response
	if err := json.Unmarshal(b, &r); err != nil {
		tb.Fatalf("response Bundle %s: %v", b, err)
	}
	return r
}

// statuses returns "status location" of each response entry.
func (r response) statuses() []string {
	var out []string
	for _, e := range r.Entry {
		out = append(out, strings.TrimSpace(e.Response.Status+" "+e.Response.Location))
	}
	return out
}

// bundle builds a Bundle of type typ from entry JSON.
func bundle(typ string, entries ...string) []byte {
	return []byte(`{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(entries, ",") + `]}`)
}

func put(typ, id, extra string) string {
	return fmt.Sprintf(`{"fullUrl":"urn:uuid:%s","resource":{"resourceType":%q,"id":%q%s},"request":{"method":"PUT","url":"%s/%s"}}`,
		id, typ, id, extra, typ, id)
}

func del(typ, id string) string {
	return fmt.Sprintf(`{"request":{"method":"DELETE","url":"%s/%s"}}`, typ, id)
}

func TestTransaction(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testContext(t)
	if _, err := s.Put(ctx, tenant, "Patient", "old", []byte(`{"resourceType":"Patient"}`)); err != nil {
		t.Fatal(err)
	}
	out, err := s.ApplyBundle(ctx, tenant, bundle(fhir.BundleTransaction,
		put("Patient", "a", ""),
		put("Patient", "a", `,"active":true`), // the same record twice: two versions, the last wins
		`{"fullUrl":"urn:uuid:obs","resource":{"resourceType":"Observation","id":"o1","subject":{"reference":"urn:uuid:a"}},"request":{"method":"POST","url":"Observation"}}`,
		del("Patient", "old"),
		del("Patient", "never"),
		put("Patient", "old", ""), // created again after the delete above
	))
	if err != nil {
		t.Fatalf("ApplyBundle: %v", err)
	}
	r := decodeResponse(t, out)
	want := []string{
		"201 Created Patient/a/_history/1", "200 OK Patient/a/_history/2", "201 Created Observation/o1/_history/1",
		"204 No Content", "204 No Content", "201 Created Patient/old/_history/3",
	}
	if diff := cmp.Diff(want, r.statuses()); diff != "" || r.Type != "transaction-response" {
		t.Errorf("response %s (-want +got):\n%s", r.Type, diff)
	}
	a, err := s.Get(ctx, tenant, "Patient", "a")
	if err != nil || a.VersionID != "2" || !strings.Contains(string(a.Body), `"active":true`) {
		t.Errorf("Patient/a = %s, %v", a.Body, err)
	}
	o, err := s.Get(ctx, tenant, "Observation", "o1")
	if err != nil || !strings.Contains(string(o.Body), `"subject":{"reference":"Patient/a"}`) {
		t.Errorf("Observation/o1 = %s, %v", o.Body, err)
	}
}

func TestTransactionAllOrNothing(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testContext(t)
	tests := []struct {
		name  string
		bad   string
		want  error
		index string
	}{
		{"unknown type", `{"resource":{"resourceType":"Foo"},"request":{"method":"POST","url":"Foo"}}`, fhir.ErrUnknownType, "Bundle.entry[2]"},
		{"type mismatch", `{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Observation"}}`, fhir.ErrMismatch, "Bundle.entry[2]"},
		{"GET", `{"request":{"method":"GET","url":"Patient/a"}}`, fhir.ErrNotSupported, "Bundle.entry[2]"},
		{"id the bucket cannot hold", put("Patient", "x..y", ""), fhir.ErrBadID, "Bundle.entry[2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.ApplyBundle(ctx, tenant, bundle(fhir.BundleTransaction,
				put("Patient", "a", ""), put("Practitioner", "b", ""), tt.bad, put("Patient", "c", "")))
			if !errors.Is(err, ErrInvalid) || !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.index) {
				t.Fatalf("ApplyBundle error = %v, want ErrInvalid, %v, naming %s", err, tt.want, tt.index)
			}
			if n := countKeys(t, s, tenant); n != 0 {
				t.Errorf("%d records written by a failed transaction", n)
			}
		})
	}
}

func TestBundleErrors(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testContext(t)
	tests := []struct {
		name string
		body string
		want error
	}{
		{"not JSON", `{`, fhir.ErrNotJSON},
		{"a Patient", `{"resourceType":"Patient"}`, fhir.ErrNotBundle},
		{"a collection", `{"resourceType":"Bundle","type":"collection"}`, fhir.ErrBundleType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.ApplyBundle(ctx, tenant, []byte(tt.body)); !errors.Is(err, ErrInvalid) || !errors.Is(err, tt.want) {
				t.Errorf("ApplyBundle error = %v, want ErrInvalid and %v", err, tt.want)
			}
		})
	}
}

func TestBatchPartial(t *testing.T) {
	s, a, _ := newStore(t)
	ctx := testContext(t)
	big := `,"data":"` + strings.Repeat("A", int(a.JS.Conn().MaxPayload())) + `"`
	out, err := s.ApplyBundle(ctx, tenant, bundle(fhir.BundleBatch,
		put("Patient", "a", ""),
		`{"resource":{"resourceType":"Foo"},"request":{"method":"POST","url":"Foo"}}`,
		put("Patient", "a", ""),
		put("Binary", "big", big),
		del("Patient", "a"),
		`{"request":{"method":"GET","url":"Patient/a"}}`,
		put("Group", "g", ""),
	))
	if err != nil {
		t.Fatalf("ApplyBundle: %v", err)
	}
	r := decodeResponse(t, out)
	want := []string{
		"201 Created Patient/a/_history/1", "400 Bad Request", "200 OK Patient/a/_history/2",
		"413 Payload Too Large", "204 No Content", "400 Bad Request", "201 Created Group/g/_history/1",
	}
	if diff := cmp.Diff(want, r.statuses()); diff != "" || r.Type != "batch-response" {
		t.Fatalf("response %s (-want +got):\n%s", r.Type, diff)
	}
	for i, code := range map[int]string{1: "not-supported", 3: "too-long", 5: "not-supported"} {
		var oo struct {
			Issue []fhir.Issue `json:"issue"`
		}
		if err := json.Unmarshal(r.Entry[i].Response.Outcome, &oo); err != nil || len(oo.Issue) != 1 {
			t.Fatalf("entry %d outcome %s: %v", i, r.Entry[i].Response.Outcome, err)
		}
		iss := oo.Issue[0]
		if iss.Code != code || !strings.Contains(iss.Diagnostics, fmt.Sprintf("Bundle.entry[%d]", i)) {
			t.Errorf("entry %d issue %+v, want code %s naming the entry", i, iss, code)
		}
	}
	if _, err := s.Get(ctx, tenant, "Patient", "a"); !errors.Is(err, ErrDeleted) {
		t.Errorf("Patient/a: %v, want deleted", err)
	}
	if n := countKeys(t, s, tenant); n != 1 {
		t.Errorf("%d live records, want 1 (Group/g)", n)
	}
}

func TestTransactionOverServerLimit(t *testing.T) {
	srv, err := natsserver.Start(natsserver.Config{Listen: "127.0.0.1:-1", StoreDir: t.TempDir(), MaxBatchSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx := testContext(t)
	a, err := broker.Setup(ctx, js, broker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := New(a.FHIR, a.JS, nil)
	var entries []string
	for i := range 6 {
		entries = append(entries, put("Patient", fmt.Sprint("p", i), ""))
	}
	_, err = s.ApplyBundle(ctx, tenant, bundle(fhir.BundleTransaction, entries...))
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "at most 5 entries") {
		t.Fatalf("ApplyBundle of 6 entries with a limit of 5: %v, want ErrTooLarge naming the limit", err)
	}
	if n := countKeys(t, s, tenant); n != 0 {
		t.Errorf("%d records written", n)
	}
	if _, err := s.ApplyBundle(ctx, tenant, bundle(fhir.BundleTransaction, entries[:5]...)); err != nil {
		t.Errorf("ApplyBundle of 5 entries: %v", err)
	}
}

func TestConcurrentTransactionsKeepEveryVersion(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testContext(t)
	const writers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				// Each writer also touches a record of its own.
				body := bundle(fhir.BundleTransaction, put("Organization", "shared", ""), put("Patient", fmt.Sprint("w", w), ""))
				if _, err := s.ApplyBundle(ctx, tenant, body); err != nil {
					errs <- fmt.Errorf("writer %d transaction %d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, tenant, "Organization", "shared")
	if err != nil || got.VersionID != fmt.Sprint(writers*each) {
		t.Errorf("Organization/shared version %s, want %d (%v)", got.VersionID, writers*each, err)
	}
}

func TestConcurrentBatchesKeepEveryVersion(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testContext(t)
	const writers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				body := bundle(fhir.BundleBatch, put("Organization", "shared", ""), put("Patient", fmt.Sprint("w", w), ""),
					put("Organization", "shared", ""))
				out, err := s.ApplyBundle(ctx, tenant, body)
				if err != nil {
					errs <- fmt.Errorf("writer %d batch %d: %w", w, i, err)
					return
				}
				for _, st := range decodeResponse(t, out).statuses() {
					if !strings.HasPrefix(st, "20") {
						errs <- fmt.Errorf("writer %d batch %d: entry %s", w, i, st)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, tenant, "Organization", "shared")
	if err != nil || got.VersionID != fmt.Sprint(2*writers*each) {
		t.Errorf("Organization/shared version %s, want %d (%v)", got.VersionID, 2*writers*each, err)
	}
}

// syntheaDir is where the repository keeps its Synthea patients.
var syntheaDir = filepath.Join("..", "..", "testdata", "synthea")

func TestApplySyntheaTestdata(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testContext(t)
	files, _ := filepath.Glob(filepath.Join(syntheaDir, "*.json"))
	if len(files) != 3 {
		t.Fatalf("want 3 bundles in %s, got %d", syntheaDir, len(files))
	}
	stored := map[string]bool{}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.ApplyBundle(ctx, tenant, body)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		for _, e := range decodeResponse(t, out).Entry {
			if e.Response.Status != "201 Created" {
				t.Fatalf("%s: entry %s %s", filepath.Base(f), e.Response.Status, e.Response.Location)
			}
			ref, _, _ := strings.Cut(e.Response.Location, "/_history/")
			stored[ref] = true
		}
	}
	if len(stored) != 230 || countKeys(t, s, tenant) != 230 {
		t.Fatalf("%d records in responses, %d keys; want 230", len(stored), countKeys(t, s, tenant))
	}
	// Every reference of every stored record resolves to a stored Type/id.
	resolved := 0
	for ref := range stored {
		typ, id, _ := strings.Cut(ref, "/")
		rec, err := s.Get(ctx, tenant, typ, id)
		if err != nil {
			t.Fatalf("Get %s: %v", ref, err)
		}
		refs, err := fhir.References(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range refs {
			if strings.HasPrefix(r, "#") {
				continue
			}
			if !stored[r] {
				t.Errorf("%s refers to %q, which is not a stored record", ref, r)
			}
			resolved++
		}
	}
	t.Logf("230 records, %d references, all resolved", resolved)
}

// TestLoadSynthea100 loads the 100-patient fixture the way the loader does:
// each Bundle through ApplyBundle, the bare Group with Put. Once as the
// transactions the files are, one at a time and two at a time (concurrent
// transactions upserting the same Organizations and Practitioners), once
// rewritten as batches (the loader's way with NDJSON), each into a tenant of
// its own.
func TestLoadSynthea100(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "fixtures", "synthea-r4-100", "bundles")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Skipf("fixtures absent: %s holds no bundles (they live beside the repository, not in it)", dir)
	}
	if testing.Short() {
		t.Skip("-short: skipping the 100-patient load")
	}
	if len(files) != 103 {
		t.Fatalf("want 103 files in %s, got %d", dir, len(files))
	}
	bodies := make([][]byte, len(files))
	size := 0
	for i, f := range files {
		var err error
		if bodies[i], err = os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
		size += len(bodies[i])
	}
	s, _, _ := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tests := []struct {
		name    string
		tenant  events.Tenant
		as      []byte // the Bundle type to load the files as
		workers int
	}{
		{"transaction", "one_test", []byte(`"type": "transaction"`), 1},
		{"transaction 2 at a time", "two_test", []byte(`"type": "transaction"`), 2},
		{"batch", "batch_test", []byte(`"type": "batch"`), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, cpu0 := time.Now(), cpuTime()
			var (
				mu      sync.Mutex
				entries int
				wg      sync.WaitGroup
				next    = make(chan int)
			)
			for range tt.workers {
				wg.Go(func() {
					for i := range next {
						n, err := loadFile(ctx, s, tt.tenant, files[i], bodies[i], tt.as)
						if err != nil {
							t.Error(err)
						}
						mu.Lock()
						entries += n
						mu.Unlock()
					}
				})
			}
			for i := range files {
				next <- i
			}
			close(next)
			wg.Wait()
			elapsed, cpu := time.Since(start), cpuTime()-cpu0
			if entries != 38971 {
				t.Errorf("%d entries applied, want 38,971", entries)
			}
			if n := countKeys(t, s, tt.tenant); n != 38473 {
				t.Errorf("%d distinct records, want 38,473", n)
			}
			// This Organization is in two Bundles: created, then upserted.
			org, err := s.Get(ctx, tt.tenant, "Organization", "ef58ea08-d883-3957-8300-150554edc8fb")
			if err != nil || org.VersionID != "2" {
				t.Errorf("shared Organization at version %s, want 2 (%v)", org.VersionID, err)
			}
			t.Logf("loaded %d files as %s Bundles, %d entries, %.1f MB in %s (%.0f entries/s), %s CPU (client and embedded server)",
				len(files), tt.name, entries, float64(size)/1e6, elapsed.Round(time.Millisecond), float64(entries)/elapsed.Seconds(),
				cpu.Round(time.Millisecond))
		})
	}
}

// loadFile loads one fixture file: a Bundle, rewritten to the type as, or
// the bare Group. It returns how many entries were applied.
func loadFile(ctx context.Context, s *Store, t events.Tenant, name string, body, as []byte) (int, error) {
	if strings.HasPrefix(filepath.Base(name), "groupInformation") {
		r, err := fhir.ParseResource(body)
		if err != nil {
			return 0, err
		}
		if _, err := s.Put(ctx, t, r.Type, r.ID, body); err != nil {
			return 0, fmt.Errorf("%s: %w", filepath.Base(name), err)
		}
		return 1, nil
	}
	out, err := s.ApplyBundle(ctx, t, bytes.Replace(body, []byte(`"type": "transaction"`), as, 1))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", filepath.Base(name), err)
	}
	var r response
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, err
	}
	for _, st := range r.statuses() {
		if !strings.HasPrefix(st, "20") {
			return 0, fmt.Errorf("%s: entry %s", filepath.Base(name), st)
		}
	}
	return len(r.Entry), nil
}

// cpuTime returns the CPU time this process has used, user and system: the
// client and the embedded server together. Unlike wall time it hardly
// changes when other processes compete for the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
