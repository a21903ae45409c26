package synthetic

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// collect returns every resource Stream emits for seed and patients.
func collect(tb testing.TB, seed int64, patients int) []Resource {
	tb.Helper()
	var out []Resource
	if err := Stream(seed, patients, func(r Resource) error {
		out = append(out, r)
		return nil
	}); err != nil {
		tb.Fatalf("Stream: %v", err)
	}
	return out
}

// refs lists the Type/id of rs, for readable diffs.
func refs(rs []Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Ref()
	}
	return out
}

func digest(rs []Resource) string {
	h := sha256.New()
	for _, r := range rs {
		h.Write(r.JSON)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestDeterministic(t *testing.T) {
	tests := []struct {
		name     string
		seed     int64
		patients int
	}{
		{name: "seed 1", seed: 1, patients: 30},
		{name: "seed 0", seed: 0, patients: 10},
		{name: "negative seed", seed: -7, patients: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := collect(t, tt.seed, tt.patients), collect(t, tt.seed, tt.patients)
			if diff := cmp.Diff(refs(a), refs(b)); diff != "" || digest(a) != digest(b) {
				t.Fatalf("two runs differ (-first +second):\n%s", diff)
			}
			// Patient n does not depend on what was generated before it.
			g := New(tt.seed)
			last := tt.patients - 1
			alone := g.Patient(last)
			if streamed := a[len(a)-len(alone):]; digest(streamed) != digest(alone) {
				diff := cmp.Diff(refs(streamed), refs(alone))
				t.Fatalf("patient %d alone differs from streamed (-streamed +alone):\n%s", last, diff)
			}
			other := collect(t, tt.seed+1, tt.patients)
			if digest(a) == digest(other) {
				t.Fatalf("seeds %d and %d produced the same data", tt.seed, tt.seed+1)
			}
		})
	}
}

// TestGolden pins the output of seed 1, so that a change to the generator
// (or to anything it relies on) that alters the data is seen and made on
// purpose: run `go test ./internal/synthetic -update` to accept it.
func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "seed1-patient0.ndjson")
	var buf bytes.Buffer
	for _, r := range New(1).Patient(0) {
		buf.Write(r.JSON)
		buf.WriteByte('\n')
	}
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Fatalf("patient 0 of seed 1 changed (-golden +now):\n%s", diff)
	}
	// The first 50 patients as a whole, by digest.
	sumPath := filepath.Join("testdata", "seed1-50.sha256")
	got := digest(collect(t, 1, 50))
	if *update {
		if err := os.WriteFile(sumPath, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := os.ReadFile(sumPath)
	if err != nil {
		t.Fatalf("read %s (run with -update to create it): %v", sumPath, err)
	}
	if string(bytes.TrimSpace(sum)) != got {
		t.Fatalf("50 patients of seed 1 changed: digest %s, golden %s", got, bytes.TrimSpace(sum))
	}
}

var fhirID = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// references returns every "reference" string value in v.
func references(v any, out []string) []string {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "reference" {
				out = append(out, s)
				continue
			}
			out = references(x, out)
		}
	case []any:
		for _, x := range v {
			out = references(x, out)
		}
	}
	return out
}

func TestValid(t *testing.T) {
	seen := make(map[string]bool)
	types := make(map[string]int)
	rs := collect(t, 42, 60)
	for i, r := range rs {
		var obj map[string]any
		if err := json.Unmarshal(r.JSON, &obj); err != nil {
			t.Fatalf("resource %d (%s) is not a JSON object: %v\n%s", i, r.Ref(), err, r.JSON)
		}
		if obj["resourceType"] != r.Type || obj["id"] != r.ID {
			t.Fatalf("resource %d: resourceType/id %v/%v, Resource says %s", i, obj["resourceType"], obj["id"], r.Ref())
		}
		if _, ok := obj["meta"]; ok {
			t.Errorf("%s has meta: the server sets it", r.Ref())
		}
		if !fhirID.MatchString(r.ID) {
			t.Errorf("%s: id is not a valid FHIR id", r.Ref())
		}
		if seen[r.Ref()] {
			t.Errorf("%s generated twice", r.Ref())
		}
		for _, ref := range references(obj, nil) {
			if !seen[ref] {
				t.Errorf("%s refers to %s, which was not generated before it", r.Ref(), ref)
			}
		}
		seen[r.Ref()] = true
		types[r.Type]++
	}
	for _, typ := range []string{"Patient", "Encounter", "Observation", "Condition", "Procedure",
		"MedicationRequest", "Immunization", "DiagnosticReport", "AllergyIntolerance"} {
		if types[typ] == 0 {
			t.Errorf("no %s in 60 patients", typ)
		}
	}
	if types["Patient"] != 60 {
		t.Errorf("%d Patients, want 60", types["Patient"])
	}
}

func TestSizes(t *testing.T) {
	rs := collect(t, 3, 200)
	total := 0
	for _, r := range rs {
		if len(r.JSON) < 300 || len(r.JSON) > 4096 {
			t.Errorf("%s is %d bytes, outside 300..4096", r.Ref(), len(r.JSON))
		}
		total += len(r.JSON)
	}
	mean := total / len(rs)
	if mean < 700 || mean > 1400 {
		t.Errorf("mean resource size %d bytes, want about 1 KiB (700..1400)", mean)
	}
	perPatient := len(rs) / 200
	if perPatient < 20 || perPatient > 120 {
		t.Errorf("%d resources per patient, want 20..120", perPatient)
	}
	t.Logf("%d resources, mean %d bytes, %d per patient", len(rs), mean, perPatient)
}

func TestCount(t *testing.T) {
	g := New(9)
	for n := range 50 {
		if got, want := g.Count(n), len(g.Patient(n)); got != want {
			t.Fatalf("Count(%d) = %d, Patient(%d) has %d", n, got, n, want)
		}
	}
	if got, want := Count(9, 50), len(collect(t, 9, 50)); got != want {
		t.Fatalf("Count(9, 50) = %d, Stream emits %d", got, want)
	}
}

func TestStreamResources(t *testing.T) {
	all := collect(t, 5, 40)
	tests := []struct {
		name  string
		total int
	}{
		{name: "none", total: 0},
		{name: "one", total: 1},
		{name: "mid patient", total: 77},
		{name: "many patients", total: len(all) - 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Resource
			err := StreamResources(5, tt.total, func(r Resource) error {
				got = append(got, r)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.total {
				t.Fatalf("emitted %d resources, want %d", len(got), tt.total)
			}
			if digest(all[:tt.total]) != digest(got) {
				diff := cmp.Diff(refs(all[:tt.total]), refs(got))
				t.Fatalf("not a prefix of Stream's output (-stream +resources):\n%s", diff)
			}
		})
	}
}

func TestStreamErrors(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := Stream(1, 10, func(Resource) error {
		n++
		if n == 5 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 5 {
		t.Fatalf("Stream returned %v after %d resources, want stop after 5", err, n)
	}
	if err := Stream(1, -1, func(Resource) error { return nil }); !errors.Is(err, ErrNegative) {
		t.Fatalf("Stream(-1) = %v, want ErrNegative", err)
	}
	if err := StreamResources(1, -1, func(Resource) error { return nil }); !errors.Is(err, ErrNegative) {
		t.Fatalf("StreamResources(-1) = %v, want ErrNegative", err)
	}
}

// BenchmarkStreamResources measures generation on one goroutine; the
// resources/s metric is the figure the load benchmark depends on.
func BenchmarkStreamResources(b *testing.B) {
	const perOp = 10000
	var bytes int64
	b.ReportAllocs()
	for b.Loop() {
		if err := StreamResources(1, perOp, func(r Resource) error {
			bytes += int64(len(r.JSON))
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*perOp)/sec, "resources/s")
	b.ReportMetric(float64(bytes)/sec/1e6, "MB/s")
}
