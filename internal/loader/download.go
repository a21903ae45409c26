package loader

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
)

// ErrCountMismatch: a downloaded file does not hold as many lines as the
// job's manifest says.
var ErrCountMismatch = errors.New("line count differs from the manifest")

// Downloaded is one file written by [Loader.Download].
type Downloaded struct {
	Path         string
	ResourceType string
	Count        int64 // lines (resources) in the file
	Bytes        int64 // bytes written, uncompressed
}

// download is one file to fetch.
type download struct {
	url, name, resourceType string
	count                   int64 // expected lines, -1 when unknown
}

// fileName is a safe name taken from a signed URL: Type.n.ndjson.
var fileName = regexp.MustCompile(`^[A-Za-z]{1,64}(\.[0-9]{1,9})?\.ndjson$`)

// downloads lists the files of j under unique, safe names: the URL's own
// name when it looks like Type.n.ndjson, else Type.<k>.ndjson. A job that
// lists no files but reports resources and a downloadUrl is fetched whole
// into export.ndjson; one that exported nothing has nothing to fetch.
func downloads(j Job) []download {
	if len(j.Files) == 0 {
		if j.DownloadURL == "" || j.Progress.Resources == 0 {
			return nil
		}
		return []download{{url: j.DownloadURL, name: "export.ndjson", count: j.Progress.Resources}}
	}
	used := make(map[string]bool)
	perType := make(map[string]int)
	out := make([]download, 0, len(j.Files))
	for _, f := range j.Files {
		perType[f.ResourceType]++
		name := ""
		if u, err := url.Parse(f.URL); err == nil {
			name = path.Base(u.Path)
		}
		if !fileName.MatchString(name) || used[name] {
			typ := f.ResourceType
			if !validName(typ) {
				typ = "Resource"
			}
			name = typ + "." + strconv.Itoa(perType[f.ResourceType]) + ".ndjson"
			for k := 2; used[name]; k++ {
				name = typ + "." + strconv.Itoa(perType[f.ResourceType]) + "-" + strconv.Itoa(k) + ".ndjson"
			}
		}
		used[name] = true
		out = append(out, download{url: f.URL, name: name, resourceType: f.ResourceType, count: f.Count})
	}
	return out
}

// Download streams every file of the completed job j into dir, creating
// it, Concurrency files at a time, each in constant memory (gzip accepted
// on the wire). It checks each file's line count against the manifest
// ([ErrCountMismatch]). onBytes, if not nil, is told the bytes written as
// they are, from one goroutine at a time. Signed URLs need no key, so none
// is sent. A job that exported nothing yields no files and creates no dir.
func (l *Loader) Download(ctx context.Context, j Job, dir string, onBytes func(n int)) ([]Downloaded, error) {
	list := downloads(j)
	if len(list) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("download job %s: %w", j.JobID, err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu sync.Mutex
	report := func(n int) {
		if onBytes != nil {
			mu.Lock()
			onBytes(n)
			mu.Unlock()
		}
	}
	out := make([]Downloaded, len(list))
	sem := make(chan struct{}, l.cfg.Concurrency)
	var wg sync.WaitGroup
	for i, d := range list {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			res, err := l.fetch(ctx, d, dir, report)
			if err != nil {
				cancel(fmt.Errorf("download %s: %w", d.name, err))
				return
			}
			out[i] = res
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// fetch writes one file: to a temporary name first, renamed once whole and
// checked, so that a file in dir is never a partial one.
func (l *Loader) fetch(ctx context.Context, d download, dir string, report func(int)) (Downloaded, error) {
	u, err := url.Parse(l.base + "/")
	if err != nil {
		return Downloaded{}, err
	}
	ref, err := url.Parse(d.url)
	if err != nil {
		return Downloaded{}, fmt.Errorf("file url %q: %w", d.url, err)
	}
	c := call{method: http.MethodGet, url: u.ResolveReference(ref).String(),
		header: http.Header{"Accept-Encoding": {"gzip"}, "Accept": {"application/fhir+ndjson, application/x-ndjson, */*"}}}
	resp, err := l.send(ctx, c)
	if err != nil {
		return Downloaded{}, err
	}
	if resp.StatusCode/100 != 2 {
		_, err := readAnswer(c, resp)
		return Downloaded{}, err
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		z, err := gzip.NewReader(resp.Body)
		if err != nil {
			return Downloaded{}, fmt.Errorf("gzip: %w", err)
		}
		body = z
	}
	tmp, err := os.CreateTemp(dir, "."+d.name+".*.part")
	if err != nil {
		return Downloaded{}, err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	lc := &lineCounter{report: report}
	w := bufio.NewWriterSize(io.MultiWriter(tmp, lc), 256<<10)
	if _, err := io.Copy(w, body); err != nil {
		tmp.Close()
		return Downloaded{}, fmt.Errorf("read %s: %w", pathOf(c.url), err)
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return Downloaded{}, err
	}
	if err := tmp.Chmod(0o644); err != nil { // CreateTemp makes it 0600
		tmp.Close()
		return Downloaded{}, err
	}
	if err := tmp.Close(); err != nil {
		return Downloaded{}, err
	}
	lines := lc.lines()
	if d.count >= 0 && lines != d.count {
		return Downloaded{}, fmt.Errorf("%w: %d lines, the manifest says %d", ErrCountMismatch, lines, d.count)
	}
	final := filepath.Join(dir, d.name)
	if err := os.Rename(tmp.Name(), final); err != nil {
		return Downloaded{}, err
	}
	return Downloaded{Path: final, ResourceType: d.resourceType, Count: lines, Bytes: lc.bytes}, nil
}

// lineCounter counts the lines and bytes written through it; a last line
// without a newline counts too.
type lineCounter struct {
	n, bytes int64
	last     byte
	report   func(int)
}

func (c *lineCounter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.n += int64(bytes.Count(p, []byte{'\n'}))
	c.bytes += int64(len(p))
	c.last = p[len(p)-1]
	c.report(len(p))
	return len(p), nil
}

func (c *lineCounter) lines() int64 {
	if c.bytes > 0 && c.last != '\n' {
		return c.n + 1
	}
	return c.n
}
