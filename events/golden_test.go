package events_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/events"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current encoding")

// goldenPath is the golden file of one event type, such as testdata/ExportStarted.golden.json.
func goldenPath(k events.Kind) string {
	return filepath.Join("testdata", k.Type()+".golden.json")
}

// goldenBytes is how an event is written to its golden file: the exact
// output of json.Marshal, indented for review. Indenting only adds
// whitespace, so field names, order and values are pinned byte for byte.
func goldenBytes(tb testing.TB, e events.Event) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, mustJSON(tb, e), "", "  "); err != nil {
		tb.Fatalf("indent %s: %v", e.Type, err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// TestGolden pins the JSON of every event type: the encoding must equal the
// golden file, and the golden file must decode to the same event. Run
// `go test ./events -update` to rewrite the files after an intended change
// (adding a field); renaming or removing one breaks readers of the log.
func TestGolden(t *testing.T) {
	for _, k := range events.Kinds() {
		t.Run(k.Type(), func(t *testing.T) {
			want := sampleEvent(k)
			got := goldenBytes(t, want)
			path := goldenPath(k)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatalf("update golden: %v", err)
				}
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run go test ./events -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(golden), string(got)); diff != "" {
				t.Errorf("encoding of %s differs from %s (-golden +got):\n%s", k.Type(), path, diff)
			}
			decoded, err := events.Decode(golden)
			if err != nil {
				t.Fatalf("decode %s: %v", path, err)
			}
			if diff := cmp.Diff(want, decoded); diff != "" {
				t.Errorf("decoded %s differs (-want +got):\n%s", path, diff)
			}
			if decoded.Kind() != k || decoded.Subject() != events.Subject(testTenant, testJobID, k) {
				t.Errorf("decoded kind %q subject %q, want %q", decoded.Kind(), decoded.Subject(), k)
			}
		})
	}
}

// TestGoldenFilesComplete checks there is a golden file for every kind and
// none for a kind that does not exist.
func TestGoldenFilesComplete(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, k := range events.Kinds() {
		want = append(want, goldenPath(k))
	}
	slices.Sort(want) // Glob returns names sorted
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("golden files (-want +got):\n%s", diff)
	}
}

// TestSamplesFullyPopulated guards the golden files themselves: every field
// of every payload (and of the envelope) is set in the samples, so a field
// added later without a sample value fails here instead of slipping past
// the golden test as an omitted zero.
func TestSamplesFullyPopulated(t *testing.T) {
	for _, k := range events.Kinds() {
		t.Run(k.Type(), func(t *testing.T) {
			e := sampleEvent(k)
			for _, f := range zeroFields(reflect.ValueOf(e.Data).Elem(), "data") {
				t.Errorf("payload field %s is not set in the sample", f)
			}
			e.Seq = 1 // not part of the JSON
			for _, f := range zeroFields(reflect.ValueOf(e), "event") {
				t.Errorf("envelope field %s is not set in the sample", f)
			}
		})
	}
}

// zeroFields returns the paths of the zero-valued fields of struct v (other
// than bools the JSON always carries), descending into nested structs and the elements of slices of structs.
func zeroFields(v reflect.Value, path string) []string {
	var out []string
	for i := range v.NumField() {
		f, name := v.Field(i), path+"."+v.Type().Field(i).Name
		if !v.Type().Field(i).IsExported() {
			continue
		}
		if f.Kind() == reflect.Bool && !strings.Contains(v.Type().Field(i).Tag.Get("json"), "omitempty") {
			continue // written whatever its value, so the golden file pins it
		}
		if f.IsZero() || ((f.Kind() == reflect.Slice || f.Kind() == reflect.Map) && f.Len() == 0) {
			out = append(out, name)
			continue
		}
		switch {
		case f.Kind() == reflect.Struct && f.Type().PkgPath() != "time":
			out = append(out, zeroFields(f, name)...)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
			for j := range f.Len() {
				out = append(out, zeroFields(f.Index(j), name)...)
			}
		}
	}
	return out
}
