package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestExportCommand(t *testing.T) {
	url, key := clientSystem(t)
	if _, errOut, err := runCmd(t, "load", "--url", url, "--key", key, "../../testdata/synthea"); err != nil {
		t.Fatalf("load: %v\n%s", err, errOut)
	}
	dir := filepath.Join(t.TempDir(), "out")
	out, errOut, err := runCmd(t, "export", "--url", url, "--key", key, "--types", "Patient, Condition", "--out", dir, "--poll", "100ms")
	if err != nil {
		t.Fatalf("export: %v\n%s", err, errOut)
	}
	// Each stdout line is "<path>\t<count>"; the files hold that many lines.
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		path, n, ok := strings.Cut(line, "\t")
		if !ok || filepath.Dir(path) != dir {
			t.Fatalf("output line %q: want <file in %s>\\t<count>", line, dir)
		}
		want, _ := strconv.Atoi(n)
		got := countLines(t, path)
		if got != want {
			t.Errorf("%s has %d lines, printed %d", path, got, want)
		}
		typ, _, _ := strings.Cut(filepath.Base(path), ".")
		counts[typ] += got
	}
	// The three testdata patients: 3 Patients, 7 Conditions.
	if counts["Patient"] != 3 || counts["Condition"] != 7 {
		t.Errorf("exported %v, want 3 Patient and 7 Condition", counts)
	}
	if !strings.Contains(errOut, "10 resources") {
		t.Errorf("stderr lacks the summary:\n%s", errOut)
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no types", []string{"--url", url, "--key", key}, "--types is required"},
		{"timeout", []string{"--url", url, "--key", key, "--types", "Patient", "--timeout", "1ns"}, "is still pending after 1ns"},
		{"unknown type", []string{"--url", url, "--key", key, "--types", "Patient,Nonsense"}, "Nonsense"},
		{"bad since", []string{"--url", url, "--key", key, "--types", "Patient", "--since", "yesterday"}, "400"},
		{"no key", []string{"--url", url, "--key", "", "--types", "Patient"}, "no API key"},
		{"wrong key", []string{"--url", url, "--key", "clk_test_nope", "--types", "Patient"}, "refused the API key"},
		{"unreachable", []string{"--url", closedURL(t), "--key", key, "--types", "Patient"}, "cannot reach the gateway"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCmd(t, append([]string{"export"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func countLines(tb testing.TB, path string) int {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	n := 0
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 16<<20)
	for s.Scan() {
		n++
	}
	if err := s.Err(); err != nil {
		tb.Fatal(err)
	}
	return n
}
