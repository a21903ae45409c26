package app_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/apikeys"
	"github.com/jetexport/jetexport/internal/app"
	"github.com/jetexport/jetexport/internal/loader"
	"github.com/jetexport/jetexport/internal/natstest"
)

// startSystem runs the same wiring as `jetexport serve`: embedded NATS on a
// random port with its store in a temporary directory, HTTP on 127.0.0.1:0.
func startSystem(tb testing.TB, dir string) *app.System {
	tb.Helper()
	cfg := app.Config{DataDir: dir, NATSListen: "127.0.0.1:0", HTTP: "127.0.0.1:0", Services: app.All,
		Log: zerolog.New(zerolog.NewTestWriter(tb)).Level(zerolog.WarnLevel)}
	cfg.Exporter.PartMaxResources = 40 // several parts per type, even for three patients
	sys, err := app.Start(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("start: %v", err)
	}
	tb.Cleanup(func() {
		if err := sys.Stop(); err != nil {
			tb.Errorf("stop: %v", err)
		}
	})
	return sys
}

func newKey(tb testing.TB, sys *app.System, customer string, mode events.Mode) string {
	tb.Helper()
	key, _, err := apikeys.New(sys.Assets.APIKeys, time.Now).Create(context.Background(), customer, mode, tb.Name())
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// client speaks the REST API as the ClinikAPI SDK does.
type client struct {
	tb   testing.TB
	base string
	key  string
}

type envelope struct {
	Data  json.RawMessage `json:"data"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Meta struct {
		RequestID string `json:"requestId"`
		Status    int    `json:"status"`
		RateLimit *struct {
			Limit, Remaining int
			Reset            any
		} `json:"rateLimit"`
	} `json:"meta"`
}

func (c client) do(method, path, contentType string, body []byte) (*http.Response, envelope) {
	c.tb.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.tb.Fatal(err)
	}
	if c.key != "" {
		req.Header.Set("x-api-key", c.key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer resp.Body.Close()
	var env envelope
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &env); err != nil {
		c.tb.Fatalf("%s %s: %d, body is not the JSON envelope: %q", method, path, resp.StatusCode, raw)
	}
	return resp, env
}

type jobView struct {
	JobID       string `json:"jobId"`
	Status      string `json:"status"`
	DownloadURL string `json:"downloadUrl"`
	ExpiresAt   string `json:"expiresAt"`
	Files       []struct {
		ResourceType string `json:"resourceType"`
		URL          string `json:"url"`
		Count        int    `json:"count"`
	} `json:"files"`
	Progress struct {
		Resources int `json:"resources"`
	} `json:"progress"`
}

func (c client) kickOff(body string) string {
	c.tb.Helper()
	resp, env := c.do("POST", "/v1/bulk/export", "application/json", []byte(body))
	if resp.StatusCode != http.StatusAccepted {
		c.tb.Fatalf("kick-off: %d %+v", resp.StatusCode, env.Error)
	}
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-Request-Id"} {
		if resp.Header.Get(h) == "" {
			c.tb.Errorf("kick-off answer lacks %s", h)
		}
	}
	var d struct{ JobID, Status, Message string }
	if err := json.Unmarshal(env.Data, &d); err != nil {
		c.tb.Fatal(err)
	}
	if !strings.HasPrefix(d.JobID, "job_") || d.Status != "pending" || d.Message != "Export job started" ||
		env.Meta.Status != 202 || env.Meta.RequestID == "" || env.Meta.RateLimit == nil {
		c.tb.Errorf("kick-off answer %+v %+v", d, env.Meta)
	}
	return d.JobID
}

// poll reads the job as the SDK does until it is no longer pending or
// processing. A job id just returned by the kick-off never answers 404.
func (c client) poll(id string) jobView {
	c.tb.Helper()
	var j jobView
	natstest.Eventually(c.tb, 60*time.Second, "job "+id+" never finished", func() bool {
		resp, env := c.do("GET", "/v1/bulk/jobs/"+id, "", nil)
		if resp.StatusCode != http.StatusOK {
			c.tb.Fatalf("GET job: %d %+v", resp.StatusCode, env.Error)
		}
		if err := json.Unmarshal(env.Data, &j); err != nil {
			c.tb.Fatal(err)
		}
		return j.Status != "pending" && j.Status != "processing"
	})
	return j
}

// ndjsonIDs downloads url (no API key) and returns the Type/id of every line.
func ndjsonIDs(tb testing.TB, url string, gz bool) []string {
	tb.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := http.DefaultTransport.RoundTrip(req) // no transparent gunzip
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		tb.Fatalf("download %s: %d %s", url, resp.StatusCode, b)
	}
	var r io.Reader = resp.Body
	if gz {
		if resp.Header.Get("Content-Encoding") != "gzip" {
			tb.Fatalf("asked for gzip, got Content-Encoding %q", resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			tb.Fatal(err)
		}
		r = zr
	}
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		var res struct {
			ResourceType, ID string
			Meta             struct{ VersionID, LastUpdated string }
		}
		if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
			tb.Fatalf("line is not a resource: %v", err)
		}
		if res.Meta.VersionID == "" || res.Meta.LastUpdated == "" {
			tb.Errorf("%s/%s lacks server meta", res.ResourceType, res.ID)
		}
		out = append(out, res.ResourceType+"/"+res.ID)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// bundleResources returns the Type/id of every entry of the testdata
// bundles, of the given types, de-duplicated.
func bundleResources(tb testing.TB, types ...string) map[string]bool {
	tb.Helper()
	files, _ := filepath.Glob("../../testdata/synthea/*.json")
	if len(files) == 0 {
		tb.Fatal("no testdata/synthea bundles")
	}
	want := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var bundle struct {
			Entry []struct {
				Resource struct{ ResourceType, ID string }
			}
		}
		if err := json.Unmarshal(b, &bundle); err != nil {
			tb.Fatal(err)
		}
		for _, e := range bundle.Entry {
			for _, t := range types {
				if e.Resource.ResourceType == t {
					want[t+"/"+e.Resource.ID] = true
				}
			}
		}
	}
	return want
}

func exactlyOnce(tb testing.TB, what string, got []string, want map[string]bool) {
	tb.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
		if !want[id] {
			tb.Errorf("%s: %s was not asked for", what, id)
		}
	}
	for id := range want {
		if seen[id] != 1 {
			tb.Errorf("%s: %s appears %d times, want once", what, id, seen[id])
		}
	}
}

func load(tb testing.TB, sys *app.System, key string) {
	tb.Helper()
	l, err := loader.New(loader.Config{URL: sys.HTTPURL, Key: key})
	if err != nil {
		tb.Fatal(err)
	}
	st, err := l.LoadPaths(context.Background(), []string{"../../testdata/synthea"}, nil)
	if err != nil {
		tb.Fatalf("load: %v (%+v)", err, st)
	}
	if st.Resources != 230 {
		tb.Errorf("loaded %d resources, want the 230 of the three testdata patients", st.Resources)
	}
}

func TestEndToEnd(t *testing.T) {
	sys := startSystem(t, t.TempDir())
	key := newKey(t, sys, "acme", events.ModeTest)
	c := client{tb: t, base: sys.HTTPURL, key: key}
	load(t, sys, key)
	types := []string{"Patient", "Encounter", "Observation"}
	want := bundleResources(t, types...)

	t.Run("seed request, downloadUrl and every file URL", func(t *testing.T) {
		c := c
		c.tb = t
		id := c.kickOff(`{"resourceTypes": ["Patient","Encounter","Observation"], "since": "2025-01-01T00:00:00Z"}`)
		j := c.poll(id)
		if j.Status != "completed" {
			t.Fatalf("status %s", j.Status)
		}
		if j.ExpiresAt == "" || j.Progress.Resources != len(want) {
			t.Errorf("completed view: expiresAt %q, progress %d resources, want %d", j.ExpiresAt, j.Progress.Resources, len(want))
		}
		exactlyOnce(t, "downloadUrl", ndjsonIDs(t, j.DownloadURL, false), want)
		exactlyOnce(t, "downloadUrl gzip", ndjsonIDs(t, j.DownloadURL, true), want)
		var fromFiles []string
		for _, f := range j.Files {
			ids := ndjsonIDs(t, f.URL, false)
			if len(ids) != f.Count {
				t.Errorf("%s file has %d lines, listed count %d", f.ResourceType, len(ids), f.Count)
			}
			for _, id := range ids {
				if !strings.HasPrefix(id, f.ResourceType+"/") {
					t.Errorf("%s in a %s file", id, f.ResourceType)
				}
			}
			fromFiles = append(fromFiles, ids...)
		}
		exactlyOnce(t, "file URLs", fromFiles, want)
		if len(j.Files) < 4 {
			t.Errorf("%d files: parts did not roll", len(j.Files))
		}
		// The URLs are signed: altered, they answer 403.
		resp, err := http.Get(strings.Replace(j.DownloadURL, "sig=", "sig=x", 1))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("tampered URL: %d, want 403", resp.StatusCode)
		}
	})

	t.Run("since selects what changed after it", func(t *testing.T) {
		c := c
		c.tb = t
		since := time.Now().UTC()
		changed := map[string]bool{}
		for id := range want {
			if !strings.HasPrefix(id, "Patient/") {
				continue
			}
			req, _ := http.NewRequest("GET", sys.HTTPURL+"/fhir/"+id, nil)
			req.Header.Set("x-api-key", key)
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(r.Body)
			r.Body.Close()
			put, _ := http.NewRequest("PUT", sys.HTTPURL+"/fhir/"+id, bytes.NewReader(body))
			put.Header.Set("x-api-key", key)
			put.Header.Set("Content-Type", "application/fhir+json")
			r, err = http.DefaultClient.Do(put)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != 200 {
				t.Fatalf("PUT %s: %d", id, r.StatusCode)
			}
			changed[id] = true
		}
		id := c.kickOff(fmt.Sprintf(`{"resourceTypes": ["Patient","Encounter","Observation"], "since": %q}`, since.Format(time.RFC3339Nano)))
		j := c.poll(id)
		var got []string
		for _, f := range j.Files {
			got = append(got, ndjsonIDs(t, f.URL, false)...)
		}
		exactlyOnce(t, "since", got, changed)
	})

	t.Run("errors", func(t *testing.T) {
		other := client{tb: t, base: sys.HTTPURL, key: newKey(t, sys, "globex", events.ModeTest)}
		live := client{tb: t, base: sys.HTTPURL, key: newKey(t, sys, "acme", events.ModeLive)}
		c := c
		c.tb = t
		id := c.kickOff(`{"resourceTypes": ["Patient"]}`)
		big := `{"resourceTypes": ["Patient"], "pad": "` + strings.Repeat("x", 1<<20) + `"}`
		tests := []struct {
			name        string
			c           client
			method      string
			path        string
			contentType string
			body        string
			status      int
			says        string
		}{
			{"another tenant's job", other, "GET", "/v1/bulk/jobs/" + id, "", "", 404, ""},
			{"the same customer's live key", live, "GET", "/v1/bulk/jobs/" + id, "", "", 404, ""},
			{"unknown job", c, "GET", "/v1/bulk/jobs/job_01JZZZZZZZZZZZZZZZZZZZZZZZ", "", "", 404, ""},
			{"no key", client{tb: t, base: sys.HTTPURL}, "GET", "/v1/bulk/jobs/" + id, "", "", 401, ""},
			{"unknown key", client{tb: t, base: sys.HTTPURL, key: "clk_test_nope"}, "POST", "/v1/bulk/export", "application/json", `{"resourceTypes":["Patient"]}`, 401, ""},
			{"missing resourceTypes", c, "POST", "/v1/bulk/export", "application/json", `{}`, 400, "resourceTypes"},
			{"empty resourceTypes", c, "POST", "/v1/bulk/export", "application/json", `{"resourceTypes": []}`, 400, "resourceTypes"},
			{"unknown type", c, "POST", "/v1/bulk/export", "application/json", `{"resourceTypes": ["Patient","Pateint"]}`, 400, "Pateint"},
			{"since not ISO 8601", c, "POST", "/v1/bulk/export", "application/json", `{"resourceTypes": ["Patient"], "since": "yesterday"}`, 400, "since"},
			{"malformed JSON", c, "POST", "/v1/bulk/export", "application/json", `{"resourceTypes": [`, 400, ""},
			{"body over 1 MiB", c, "POST", "/v1/bulk/export", "application/json", big, 413, ""},
			{"wrong content type", c, "POST", "/v1/bulk/export", "text/plain", `{"resourceTypes": ["Patient"]}`, 415, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.c.tb = t
				resp, env := tt.c.do(tt.method, tt.path, tt.contentType, []byte(tt.body))
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d (%+v)", resp.StatusCode, tt.status, env.Error)
				}
				if env.Error == nil || env.Error.Message == "" {
					t.Fatalf("no error envelope with a message")
				}
				if !strings.Contains(env.Error.Message, tt.says) {
					t.Errorf("message %q does not name %q", env.Error.Message, tt.says)
				}
			})
		}
	})
}

// TestRestartKeepsEverything stops the system and starts it again on the
// same data directory: jobs, files, keys and records are all still there.
func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	cfg := app.Config{DataDir: dir, NATSListen: "127.0.0.1:0", HTTP: "127.0.0.1:0", Services: app.All, Log: zerolog.Nop()}
	sys, err := app.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t, sys, "acme", events.ModeTest)
	load(t, sys, key)
	c := client{tb: t, base: sys.HTTPURL, key: key}
	id := c.kickOff(`{"resourceTypes": ["Patient","Observation"]}`)
	before := c.poll(id)
	if err := sys.Stop(); err != nil {
		t.Fatal(err)
	}
	sys = startSystem(t, dir)
	c.base = sys.HTTPURL
	after := c.poll(id)
	if after.Status != "completed" || len(after.Files) != len(before.Files) {
		t.Fatalf("after restart: %s with %d files, before %d", after.Status, len(after.Files), len(before.Files))
	}
	exactlyOnce(t, "after restart", ndjsonIDs(t, after.DownloadURL, false), bundleResources(t, "Patient", "Observation"))
}
