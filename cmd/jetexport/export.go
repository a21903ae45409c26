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
	}
	l, err := loader.New(loader.Config{URL: *url, Key: *key})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := export(ctx, l, req, *out, *poll, *progress, stdout, stderr); err != nil {
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

func export(ctx context.Context, l *loader.Loader, req loader.ExportRequest, out string, poll time.Duration,
	progress bool, stdout, stderr io.Writer) error {
	start := time.Now()
	j, err := l.StartExport(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "export %s started\n", j.JobID)
	pb := newJobBar(stderr, progress)
	j, err = l.WaitJob(ctx, j.JobID, poll, pb.update)
	pb.finish()
	if err != nil {
		return err
	}
	took := time.Since(start)
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
