package loader

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/internal/synthetic"
)

// newLoader returns a Loader for url with fast retries.
func newLoader(tb testing.TB, url string, mod func(*Config)) *Loader {
	tb.Helper()
	cfg := Config{URL: url, Key: testKey, RetryWait: time.Millisecond, MaxRetryWait: 20 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	l, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return l
}

// countingProgress records what a load reports.
type countingProgress struct {
	mu           sync.Mutex
	total, added int
	starts       int
}

func (p *countingProgress) Start(total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = total
	p.starts++
}

func (p *countingProgress) Add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.added += n
}

// bundleTypes counts the entry resource types of the Bundles in dir.
func bundleTypes(tb testing.TB, dir string) map[string]int {
	tb.Helper()
	out := make(map[string]int)
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		d, err := parseDocument(b)
		if err != nil {
			tb.Fatal(err)
		}
		for _, e := range d.Entry {
			out[e.Resource.ResourceType]++
		}
	}
	return out
}

func TestLoadPathsSynthea(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "synthea")
	g := newFakeGateway(t)
	l := newLoader(t, g.URL(), nil)
	var p countingProgress
	st, err := l.LoadPaths(context.Background(), []string{dir}, &p)
	if err != nil {
		t.Fatalf("LoadPaths: %v (errors %v)", err, st.Errors)
	}
	want := bundleTypes(t, dir)
	if diff := cmp.Diff(want, st.PerType); diff != "" {
		t.Errorf("PerType (-bundles +stats):\n%s", diff)
	}
	if st.Resources != 230 || st.Files != 3 || st.Requests != 3 || st.Failed != 0 {
		t.Errorf("stats %+v: want 230 resources, 3 files, 3 requests, 0 failed", st)
	}
	if p.starts != 1 || p.total != 230 || p.added != 230 {
		t.Errorf("progress: started %d times, total %d, added %d; want 1, 230, 230", p.starts, p.total, p.added)
	}
	if g.count() != 230 {
		t.Errorf("gateway holds %d records, want 230", g.count())
	}
	for _, s := range g.seen() {
		if s.Method != "POST" || s.Path != "/fhir" || s.Key != testKey {
			t.Errorf("request %+v: want POST /fhir with the key", s)
		}
	}
}

// writeNDJSON writes n synthetic resources as NDJSON (gzipped if the name
// ends in .gz) and returns the resources.
func writeNDJSON(tb testing.TB, path string, n int) []synthetic.Resource {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	var w interface {
		Write([]byte) (int, error)
	} = f
	var z *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		z = gzip.NewWriter(f)
		w = z
	}
	var rs []synthetic.Resource
	err = synthetic.StreamResources(7, n, func(r synthetic.Resource) error {
		rs = append(rs, r)
		w.Write(r.JSON)
		_, err := w.Write([]byte("\n"))
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	if z != nil {
		z.Close()
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return rs
}

func TestLoadNDJSON(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		n, batch int
		requests int
	}{
		{name: "plain", file: "data.ndjson", n: 640, batch: 64, requests: 10},
		{name: "gzip", file: "data.ndjson.gz", n: 250, batch: 500, requests: 1},
		{name: "exact batches", file: "data.jsonl", n: 300, batch: 100, requests: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			rs := writeNDJSON(t, path, tt.n)
			g := newFakeGateway(t)
			l := newLoader(t, g.URL(), func(c *Config) { c.BatchSize = tt.batch })
			var p countingProgress
			st, err := l.LoadPaths(context.Background(), []string{path}, &p)
			if err != nil {
				t.Fatalf("LoadPaths: %v %v", err, st.Errors)
			}
			if st.Resources != tt.n || st.Requests != tt.requests || p.total != tt.n || p.added != tt.n {
				t.Fatalf("stats %+v, progress %+v: want %d resources in %d requests", st, &p, tt.n, tt.requests)
			}
			for _, s := range g.seen() {
				if s.Entries > tt.batch {
					t.Errorf("a batch of %d entries, more than %d", s.Entries, tt.batch)
				}
				for _, m := range s.Methods {
					if m != "PUT" {
						t.Fatalf("entry method %s, want PUT", m)
					}
				}
			}
			for _, r := range []synthetic.Resource{rs[0], rs[len(rs)-1]} {
				if got := g.record(r.Ref()); string(got) != string(r.JSON) {
					t.Errorf("%s stored as %s, want %s", r.Ref(), got, r.JSON)
				}
			}
		})
	}
}

func TestLoadBatchBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.ndjson")
	writeNDJSON(t, path, 100)
	g := newFakeGateway(t)
	l := newLoader(t, g.URL(), func(c *Config) { c.MaxBatchBytes = 16 << 10 })
	st, err := l.LoadPaths(context.Background(), []string{path}, nil)
	if err != nil {
		t.Fatalf("LoadPaths: %v", err)
	}
	if st.Resources != 100 || st.Requests < 6 {
		t.Fatalf("stats %+v: want 100 resources in several requests of at most 16 KiB", st)
	}
}

func TestLoadSynthetic(t *testing.T) {
	g := newFakeGateway(t)
	l := newLoader(t, g.URL(), func(c *Config) { c.BatchSize = 200 })
	var p countingProgress
	st, err := l.LoadSynthetic(context.Background(), 3, 25, &p)
	if err != nil {
		t.Fatalf("LoadSynthetic: %v %v", err, st.Errors)
	}
	want := synthetic.Count(3, 25)
	if st.Resources != want || g.count() != want || p.total != want || p.added != want {
		t.Fatalf("stats %+v, gateway %d, progress %+v: want %d", st, g.count(), &p, want)
	}
	if st.PerType["Patient"] != 25 {
		t.Errorf("%d Patients, want 25", st.PerType["Patient"])
	}
	if _, err := l.LoadSynthetic(context.Background(), 3, -1, nil); err == nil {
		t.Error("negative patients: no error")
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name    string
		faults  []int
		retries int
		loaded  bool
	}{
		{name: "429 then 503 then ok", faults: []int{429, 429, 503}, retries: 3, loaded: true},
		{name: "gives up", faults: []int{503, 503, 503, 503, 503, 503, 503}, retries: 5, loaded: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGateway(t)
			g.faults = tt.faults
			l := newLoader(t, g.URL(), func(c *Config) { c.Concurrency = 1 })
			path := filepath.Join("..", "..", "testdata", "synthea", "Fannie_Waelchi_8666cd40-7af9-48c6-a1a6-86a161195542.json")
			st, err := l.LoadPaths(context.Background(), []string{path}, nil)
			if st.Retries != tt.retries {
				t.Errorf("%d retries, want %d", st.Retries, tt.retries)
			}
			if tt.loaded {
				if err != nil || st.Resources != 28 {
					t.Fatalf("got %v, %+v; want 28 loaded", err, st)
				}
				return
			}
			if !errors.Is(err, ErrIncomplete) || st.Failed != 28 || len(st.Errors) != 1 {
				t.Fatalf("got %v, %+v; want ErrIncomplete with 28 failed", err, st)
			}
			if !strings.Contains(st.Errors[0], "Fannie_Waelchi") || !strings.Contains(st.Errors[0], "503") {
				t.Errorf("error %q does not name the file and the status", st.Errors[0])
			}
		})
	}
}

// write creates the files of a test folder.
func write(tb testing.TB, dir string, files map[string]string) {
	tb.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		loaded int
		failed int
		want   []string // substrings, one per error message, in order
	}{
		{
			name: "batch entry rejected",
			files: map[string]string{"b.json": `{"resourceType":"Bundle","type":"batch","entry":[
				{"resource":{"resourceType":"Patient","id":"p1"},"request":{"method":"PUT","url":"Patient/p1"}},
				{"resource":{"resourceType":"Unknown","id":"u1"},"request":{"method":"PUT","url":"Unknown/u1"}}]}`},
			loaded: 1, failed: 1,
			want: []string{"b.json: entry 1 (Unknown/u1): 400 Bad Request: unknown resource type Unknown"},
		},
		{
			name: "transaction rejected",
			files: map[string]string{"t.json": `{"resourceType":"Bundle","type":"transaction","entry":[
				{"resource":{"resourceType":"Patient","id":"p1"},"request":{"method":"POST","url":"Patient"}},
				{"resource":{"resourceType":"Unknown","id":"u1"},"request":{"method":"POST","url":"Unknown"}}]}`},
			failed: 2,
			want:   []string{"t.json: POST /fhir: 400 Bad Request: Bundle.entry[1]: unknown resource type Unknown"},
		},
		{
			name: "bad ndjson lines",
			files: map[string]string{"x.ndjson": "{\"resourceType\":\"Patient\",\"id\":\"a\"}\n\nnot json\n" +
				"{\"id\":\"b\"}\n{\"resourceType\":\"Patient\",\"id\":\"b c\"}\n[1]\n{\"resourceType\":\"Patient\"}\n"},
			loaded: 2, failed: 4,
			want: []string{"x.ndjson line 3: not a FHIR resource: invalid JSON at byte 2", "x.ndjson line 4: not a FHIR resource: no resourceType",
				`x.ndjson line 5: id "b c" is not a FHIR id`, "x.ndjson line 6: not a FHIR resource: a JSON array, not an object"},
		},
		{
			name:   "single resource mismatch and not JSON",
			files:  map[string]string{"a.json": `{"resourceType":"Unknown","id":"x"}`, "b.json": `{"resourceType":`},
			failed: 2,
			want:   []string{"b.json: not a FHIR resource: invalid JSON at byte 16: unexpected end", "a.json: PUT /fhir/Unknown/x: 400 Bad Request: unknown resource type Unknown"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tt.files)
			g := newFakeGateway(t)
			l := newLoader(t, g.URL(), func(c *Config) { c.Concurrency = 1 })
			var p countingProgress
			st, err := l.LoadPaths(context.Background(), []string{dir}, &p)
			if !errors.Is(err, ErrIncomplete) {
				t.Fatalf("err %v, want ErrIncomplete", err)
			}
			if st.Resources != tt.loaded || st.Failed != tt.failed || p.added != tt.loaded+tt.failed || p.total != p.added {
				t.Errorf("stats %+v, progress %+v: want %d loaded, %d failed", st, &p, tt.loaded, tt.failed)
			}
			t.Logf("errors: %q", st.Errors)
			if len(st.Errors) != len(tt.want) {
				t.Fatalf("errors %q, want %d", st.Errors, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(st.Errors[i], w) {
					t.Errorf("error %d = %q, want it to contain %q", i, st.Errors[i], w)
				}
			}
		})
	}
}

func TestLoadFatal(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "synthea")
	t.Run("unknown key", func(t *testing.T) {
		g := newFakeGateway(t)
		l := newLoader(t, g.URL(), func(c *Config) { c.Key = "clk_test_wrong" })
		_, err := l.LoadPaths(context.Background(), []string{path}, nil)
		if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "missing or unknown API key") {
			t.Fatalf("err %v, want ErrUnauthorized with the server's message", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		l := newLoader(t, "http://"+addr, nil)
		start := time.Now()
		_, err = l.LoadSynthetic(context.Background(), 1, 5, nil)
		if !errors.Is(err, ErrUnreachable) {
			t.Fatalf("err %v, want ErrUnreachable", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v to give up on an unreachable gateway", d)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		g := newFakeGateway(t)
		l := newLoader(t, g.URL(), nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := l.LoadSynthetic(ctx, 1, 5, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	})
}

func TestSingleResourceAfterBundles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		// Named to sort before the Bundle: singles still go last.
		"a-group.json": `{"resourceType":"Group","id":"g1","type":"person","actual":true,"member":[
			{"entity":{"reference":"urn:uuid:p-1"}},{"entity":{"reference":"urn:uuid:unknown"}}]}`,
		"b-bundle.json": `{"resourceType":"Bundle","type":"transaction","entry":[
			{"fullUrl":"urn:uuid:p-1","resource":{"resourceType":"Patient","id":"p-1"},"request":{"method":"POST","url":"Patient"}}]}`,
		"c-noid.json":    `{"resourceType":"Organization","name":"Acme"}`,
		"LICENSE":        "not loaded",
		"README.md":      "not loaded",
		".hidden/x.json": `{"resourceType":"Patient","id":"hidden"}`,
	})
	g := newFakeGateway(t)
	l := newLoader(t, g.URL(), func(c *Config) { c.Concurrency = 1 })
	st, err := l.LoadPaths(context.Background(), []string{dir}, nil)
	if err != nil {
		t.Fatalf("LoadPaths: %v %v", err, st.Errors)
	}
	var got []string
	for _, s := range g.seen() {
		got = append(got, s.Method+" "+s.Path)
	}
	want := []string{"POST /fhir", "PUT /fhir/Group/g1", "POST /fhir/Organization"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("requests (-want +got):\n%s", diff)
	}
	var group struct {
		Member []struct {
			Entity struct{ Reference string } `json:"entity"`
		} `json:"member"`
	}
	if err := json.Unmarshal(g.record("Group/g1"), &group); err != nil {
		t.Fatal(err)
	}
	if len(group.Member) != 2 || group.Member[0].Entity.Reference != "Patient/p-1" || group.Member[1].Entity.Reference != "urn:uuid:unknown" {
		t.Fatalf("group members %+v: want Patient/p-1 and the unknown urn left alone", group.Member)
	}
	if st.Files != 3 || st.Resources != 3 {
		t.Errorf("stats %+v: want 3 files, 3 resources", st)
	}
}

func TestCollect(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"a.json": "{}", "sub/b.ndjson.gz": "", "sub/c.JSON": "{}", "notes.txt": "", "LICENSE": ""})
	tests := []struct {
		name  string
		paths []string
		want  []string
		err   string
	}{
		{name: "folder", paths: []string{dir}, want: []string{"a.json", "sub/b.ndjson.gz", "sub/c.JSON"}},
		{name: "file", paths: []string{filepath.Join(dir, "a.json")}, want: []string{"a.json"}},
		{name: "unknown extension", paths: []string{filepath.Join(dir, "notes.txt")}, err: "not a .json"},
		{name: "missing", paths: []string{filepath.Join(dir, "nope")}, err: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srcs, err := collect(tt.paths)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range srcs {
				rel, _ := filepath.Rel(dir, s.path)
				got = append(got, filepath.ToSlash(rel))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("files (-want +got):\n%s", diff)
			}
		})
	}
	empty := t.TempDir()
	if _, err := collect([]string{empty}); !errors.Is(err, ErrNoFiles) {
		t.Fatalf("empty folder: %v, want ErrNoFiles", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{name: "ok", cfg: Config{URL: "http://127.0.0.1:8080", Key: "k"}},
		{name: "no key", cfg: Config{URL: "http://127.0.0.1:8080"}, want: []string{"no API key"}},
		{name: "bad url and counts", cfg: Config{URL: "127.0.0.1:8080", Key: "k", Concurrency: -1, BatchSize: -2},
			want: []string{"not an http(s) URL", "concurrency -1", "batch size -2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("New: no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := New(Config{URL: "http://x"}); !errors.Is(err, ErrNoKey) {
		t.Errorf("missing key: %v, want ErrNoKey", err)
	}
}
