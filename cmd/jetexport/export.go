package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/jetexport/jetexport/internal/loader"
)

const exportUsage = `usage:
  jetexport export [--url URL] [--key KEY] --types Patient,Observation [--since 2025-01-01T00:00:00Z] [--out DIR]

Starts an export, shows its progress, downloads every file into DIR
(default ./export-<jobId>), checks each file's count and prints the paths.

flags:`

// runExport is a client of the bulk export API: kick off, poll, download.
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", stderr)
	var e envErrors
	url := fs.String("url", env("url", "http://127.0.0.1:8080"), "gateway base URL")
	key := fs.String("key", env("key", ""), "API key, clk_test_... or clk_live_... (see `jetexport keys create`)")
	types := fs.String("types", "", "resource types to export, comma-separated (required)")
	since := fs.String("since", "", "only records created or updated on or after this ISO 8601 instant")
	out := fs.String("out", "", "folder the files are written to (default ./export-<jobId>)")
	poll := fs.Duration("poll", e.duration("poll", time.Second), "how often to ask for the job's status (a Retry-After from the server wins when longer)")
	progress := fs.Bool("progress", e.bool("progress", isTerminal(stderr)), "show progress bars (default when stderr is a terminal)")
	timeout := fs.Duration("timeout", e.duration("timeout", 0), "give up waiting for the job after this long (0: wait as long as it takes)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, exportUsage)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if err := errors.Join(e...); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	var req loader.ExportRequest
	for _, t := range strings.Split(*types, ",") {
		if t = strings.TrimSpace(t); t != "" {
			req.ResourceTypes = append(req.ResourceTypes, t)
		}
	}
	req.Since = strings.TrimSpace(*since)
	switch {
	case len(pos) > 0:
		return fmt.Errorf("export: unexpected argument %q (types go in --types)", pos[0])
	case len(req.ResourceTypes) == 0:
		fs.Usage()
		return errors.New("export: --types is required, for example --types Patient,Observation")
	case *poll <= 0:
		return fmt.Errorf("export: --poll %v: must be positive", *poll)
	case *timeout < 0:
		return fmt.Errorf("export: --timeout %v: must not be negative", *timeout)
	}
	l, err := loader.New(loader.Config{URL: *url, Key: *key})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	x := exportRun{l: l, req: req, out: *out, poll: *poll, timeout: *timeout, progress: *progress, stdout: stdout, stderr: stderr}
	if err := x.run(ctx); err != nil {
		switch {
		case errors.Is(err, loader.ErrUnreachable):
			return fmt.Errorf("export: cannot reach the gateway at %s; is `jetexport serve` running? (%w)", *url, err)
		case errors.Is(err, loader.ErrUnauthorized):
			return fmt.Errorf("export: the gateway refused the API key: %w", err)
		}
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// exportRun is one run of the export command.
type exportRun struct {
	l              *loader.Loader
	req            loader.ExportRequest
	out            string
	poll, timeout  time.Duration
	progress       bool
	stdout, stderr io.Writer
}

func (x exportRun) run(ctx context.Context) error {
	l, stdout, stderr, progress := x.l, x.stdout, x.stderr, x.progress
	start := time.Now()
	j, err := l.StartExport(ctx, x.req)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "export %s started\n", j.JobID)
	pb := newJobBar(stderr, progress)
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if x.timeout > 0 {
		wctx, cancel = context.WithTimeout(ctx, x.timeout)
	}
	last := j
	j, err = l.WaitJob(wctx, j.JobID, x.poll, func(j loader.Job) { last = j; pb.update(j) })
	cancel()
	pb.finish()
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("job %s is still %s after %v (%d resources so far); it goes on: poll GET /v1/bulk/jobs/%s, or wait longer with --timeout",
			last.JobID, last.Status, x.timeout, last.Progress.Resources, last.JobID)
	}
	if err != nil {
		return err
	}
	took := time.Since(start)
	out := x.out
	if out == "" {
		out = "export-" + j.JobID
	}
	var total int64
	for _, f := range j.Files {
		total += f.Bytes
	}
	dl := newBytesBar(stderr, progress, total)
	files, err := l.Download(ctx, j, out, dl.add)
	dl.finish()
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "export %s: no resources matched; nothing to download (exported in %.1f s)\n", j.JobID, took.Seconds())
		return nil
	}
	var resources, bytes int64
	for _, f := range files {
		fmt.Fprintf(stdout, "%s\t%d\n", f.Path, f.Count)
		resources += f.Count
		bytes += f.Bytes
	}
	fmt.Fprintf(stderr, "export %s: %d resources, %d files, %.1f MB in %s; exported in %.1f s\n",
		j.JobID, resources, len(files), float64(bytes)/1e6, out, took.Seconds())
	return nil
}

// jobBar shows a job's percent and resource count while it is polled.
type jobBar struct {
	w  io.Writer
	pb *progressbar.ProgressBar
}

func newJobBar(w io.Writer, show bool) *jobBar {
	if !show {
		return &jobBar{}
	}
	return &jobBar{w: w, pb: progressbar.NewOptions(100,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("pending"),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowElapsedTimeOnFinish(),
	)}
}

func (b *jobBar) update(j loader.Job) {
	if b.pb == nil {
		return
	}
	b.pb.Describe(fmt.Sprintf("%-10s %d resources", j.Status, j.Progress.Resources))
	if p := j.Progress.Percent; p != nil {
		_ = b.pb.Set(int(*p))
	}
	if j.Status == loader.StatusCompleted {
		_ = b.pb.Set(100)
	}
}

func (b *jobBar) finish() {
	if b.pb != nil {
		_ = b.pb.Exit()
		fmt.Fprintln(b.w)
	}
}

// bytesBar shows the bytes downloaded.
type bytesBar struct{ pb *progressbar.ProgressBar }

func newBytesBar(w io.Writer, show bool, total int64) *bytesBar {
	if !show {
		return &bytesBar{}
	}
	if total <= 0 {
		total = -1
	}
	return &bytesBar{pb: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("downloading"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
	)}
}

func (b *bytesBar) add(n int) {
	if b.pb != nil {
		_ = b.pb.Add(n)
	}
}

func (b *bytesBar) finish() {
	if b.pb != nil {
		_ = b.pb.Finish()
	}
}
