package loader

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// exportGateway returns a fake gateway holding a completed job with two
// Patient files and one Observation file.
func exportGateway(tb testing.TB) *fakeGateway {
	tb.Helper()
	g := newFakeGateway(tb)
	g.files = map[string]string{
		"Patient.1.ndjson":     "{\"resourceType\":\"Patient\",\"id\":\"a\"}\n{\"resourceType\":\"Patient\",\"id\":\"b\"}\n",
		"Patient.2.ndjson":     "{\"resourceType\":\"Patient\",\"id\":\"c\"}\n",
		"Observation.1.ndjson": "{\"resourceType\":\"Observation\",\"id\":\"o\"}", // no final newline
	}
	g.job = Job{JobID: "job_1", Status: StatusCompleted, Progress: JobProgress{Resources: 4, Files: 3},
		DownloadURL: g.URL() + "/files/all?sig=ok",
		Files: []JobFile{
			{ResourceType: "Patient", URL: g.URL() + "/files/Patient.1.ndjson?sig=ok", Count: 2},
			{ResourceType: "Patient", URL: "/files/Patient.2.ndjson?sig=ok", Count: 1}, // relative
			{ResourceType: "Observation", URL: g.URL() + "/files/Observation.1.ndjson?sig=ok", Count: 1},
		}}
	return g
}

func TestExport(t *testing.T) {
	for _, gz := range []bool{false, true} {
		name := "plain"
		if gz {
			name = "gzip"
		}
		t.Run(name, func(t *testing.T) {
			g := exportGateway(t)
			g.gzipFiles = gz
			g.polls = 2
			g.kickoff = []int{429}
			l := newLoader(t, g.URL(), nil)
			ctx := context.Background()
			j, err := l.StartExport(ctx, ExportRequest{ResourceTypes: []string{"Patient", "Observation"}, Since: "2025-01-01T00:00:00Z"})
			if err != nil {
				t.Fatalf("StartExport: %v", err)
			}
			if j.JobID != "job_1" || j.Status != StatusPending || j.Message != "Export job started" {
				t.Fatalf("kick-off answer %+v", j)
			}
			var statuses []string
			done, err := l.WaitJob(ctx, j.JobID, time.Millisecond, func(j Job) { statuses = append(statuses, j.Status) })
			if err != nil {
				t.Fatalf("WaitJob: %v", err)
			}
			if diff := cmp.Diff([]string{"processing", "processing", "completed"}, statuses); diff != "" {
				t.Errorf("polled statuses (-want +got):\n%s", diff)
			}
			dir := filepath.Join(t.TempDir(), "out")
			var written int
			files, err := l.Download(ctx, done, dir, func(n int) { written += n })
			if err != nil {
				t.Fatalf("Download: %v", err)
			}
			total := 0
			for _, f := range files {
				b, err := os.ReadFile(f.Path)
				if err != nil {
					t.Fatal(err)
				}
				if want := g.files[filepath.Base(f.Path)]; string(b) != want {
					t.Errorf("%s holds %q, want %q", f.Path, b, want)
				}
				total += len(b)
			}
			if len(files) != 3 || written != total {
				t.Errorf("%d files, %d bytes reported of %d", len(files), written, total)
			}
			for _, s := range g.seen() {
				if strings.HasPrefix(s.Path, "/files/") && (s.Key != "" || !s.Gzip) {
					t.Errorf("download %+v: want no key and gzip accepted", s)
				}
			}
			left, _ := filepath.Glob(filepath.Join(dir, ".*"))
			if len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

func TestExportErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("job failed", func(t *testing.T) {
		g := exportGateway(t)
		g.job = Job{JobID: "job_1", Status: StatusFailed, Error: &JobError{Code: "store_unavailable", Message: "the clinical store could not be read"}}
		l := newLoader(t, g.URL(), nil)
		_, err := l.WaitJob(ctx, "job_1", time.Millisecond, nil)
		if !errors.Is(err, ErrJobFailed) || !strings.Contains(err.Error(), "the clinical store could not be read") {
			t.Fatalf("err %v, want ErrJobFailed with the job's message", err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		g := exportGateway(t)
		l := newLoader(t, g.URL(), nil)
		if _, err := l.Job(ctx, "job_other"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err %v, want ErrNotFound", err)
		}
	})
	t.Run("bad request", func(t *testing.T) {
		g := exportGateway(t)
		l := newLoader(t, g.URL(), nil)
		_, err := l.StartExport(ctx, ExportRequest{})
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != 400 || !strings.Contains(err.Error(), "resourceTypes is required") {
			t.Fatalf("err %v, want a 400 HTTPError with the server's message", err)
		}
	})
	t.Run("count mismatch", func(t *testing.T) {
		g := exportGateway(t)
		g.job.Files[0].Count = 5
		l := newLoader(t, g.URL(), func(c *Config) { c.Concurrency = 1 })
		dir := t.TempDir()
		_, err := l.Download(ctx, g.job, dir, nil)
		if !errors.Is(err, ErrCountMismatch) || !strings.Contains(err.Error(), "Patient.1.ndjson") {
			t.Fatalf("err %v, want ErrCountMismatch naming the file", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "Patient.1.ndjson")); !os.IsNotExist(err) {
			t.Errorf("the mismatching file was kept: %v", err)
		}
	})
	t.Run("bad signature", func(t *testing.T) {
		g := exportGateway(t)
		g.job.Files = g.job.Files[:1]
		g.job.Files[0].URL = strings.Replace(g.job.Files[0].URL, "sig=ok", "sig=tampered", 1)
		l := newLoader(t, g.URL(), nil)
		_, err := l.Download(ctx, g.job, t.TempDir(), nil)
		if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "signature is invalid") {
			t.Fatalf("err %v, want the 403 and its message", err)
		}
	})
	t.Run("nothing exported", func(t *testing.T) {
		g := exportGateway(t)
		g.job.Files, g.job.Progress = []JobFile{}, JobProgress{}
		l := newLoader(t, g.URL(), nil)
		dir := filepath.Join(t.TempDir(), "out")
		files, err := l.Download(ctx, g.job, dir, nil)
		if err != nil || len(files) != 0 {
			t.Fatalf("got %+v, %v; want no files", files, err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("created %s for an empty export", dir)
		}
	})
	t.Run("whole export when no files", func(t *testing.T) {
		g := exportGateway(t)
		g.files["all"] = strings.Repeat("{\"resourceType\":\"Patient\"}\n", 4)
		g.job.Files = nil
		l := newLoader(t, g.URL(), nil)
		files, err := l.Download(ctx, g.job, t.TempDir(), nil)
		if err != nil || len(files) != 1 || filepath.Base(files[0].Path) != "export.ndjson" || files[0].Count != 4 {
			t.Fatalf("got %+v, %v; want export.ndjson with 4 lines", files, err)
		}
	})
}

func TestDownloadNames(t *testing.T) {
	j := Job{Files: []JobFile{
		{ResourceType: "Patient", URL: "http://h/files/Patient.1.ndjson?sig=x"},
		{ResourceType: "Patient", URL: "http://h/files/Patient.1.ndjson?sig=y"}, // same name twice
		{ResourceType: "Observation", URL: "http://h/dl/../../etc/passwd"},
		{ResourceType: "../../x", URL: "http://h/v1/bulk/files/tok"},
	}}
	var got []string
	for _, d := range downloads(j) {
		got = append(got, d.name)
	}
	want := []string{"Patient.1.ndjson", "Patient.2.ndjson", "Observation.1.ndjson", "Resource.1.ndjson"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("names (-want +got):\n%s", diff)
	}
}
