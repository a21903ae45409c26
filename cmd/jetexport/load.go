package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/jetexport/jetexport/internal/loader"
)

const loadUsage = `usage:
  jetexport load [--url URL] [--key KEY] PATH...        Bundles, NDJSON, single resources, folders
  jetexport load [--url URL] [--key KEY] --synthetic N [--seed 1]

flags:`

// runLoad loads files and folders, or generated patients, through the
// gateway's FHIR endpoints, and prints what was stored.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("load", stderr)
	var e envErrors
	url := fs.String("url", env("url", "http://127.0.0.1:8080"), "gateway base URL")
	key := fs.String("key", env("key", ""), "API key, clk_test_... or clk_live_... (see `jetexport keys create`)")
	patients := fs.Int("synthetic", 0, "generate and load N synthetic patients")
	seed := fs.Int64("seed", 1, "seed of the synthetic patients: the same seed loads the same records")
	concurrency := fs.Int("concurrency", e.int("concurrency", loader.DefaultConcurrency), "requests in flight")
	batch := fs.Int("batch", e.int("batch", loader.DefaultBatchSize), "entries per batch Bundle made from NDJSON lines or synthetic patients")
	progress := fs.Bool("progress", e.bool("progress", isTerminal(stderr)), "show a progress bar (default when stderr is a terminal)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, loadUsage)
		fs.PrintDefaults()
	}
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if err := errors.Join(e...); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	switch {
	case len(paths) == 0 && *patients == 0:
		fs.Usage()
		return errors.New("load: give files or folders to load, or --synthetic N")
	case *patients < 0:
		return fmt.Errorf("load: --synthetic %d: give a number of patients, 1 or more", *patients)
	}
	l, err := loader.New(loader.Config{URL: *url, Key: *key, Concurrency: *concurrency, BatchSize: *batch})
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}

	start := time.Now()
	var total loader.Stats
	var loadErr error
	if len(paths) > 0 {
		st, err := l.LoadPaths(ctx, paths, newBar(stderr, *progress, "loading files"))
		total, loadErr = addStats(total, st), err
	}
	if *patients > 0 && (loadErr == nil || errors.Is(loadErr, loader.ErrIncomplete)) {
		desc := fmt.Sprintf("loading %d synthetic patients", *patients)
		st, err := l.LoadSynthetic(ctx, *seed, *patients, newBar(stderr, *progress, desc))
		total = addStats(total, st)
		if loadErr == nil {
			loadErr = err
		}
	}
	if loadErr == nil || errors.Is(loadErr, loader.ErrIncomplete) {
		printStats(stdout, total, time.Since(start))
	}
	for _, msg := range total.Errors {
		fmt.Fprintln(stderr, "error:", msg)
	}
	switch {
	case errors.Is(loadErr, loader.ErrUnreachable):
		return fmt.Errorf("load: cannot reach the gateway at %s; is `jetexport serve` running? (%w)", *url, loadErr)
	case errors.Is(loadErr, loader.ErrUnauthorized):
		return fmt.Errorf("load: the gateway refused the API key: %w", loadErr)
	case errors.Is(loadErr, loader.ErrIncomplete):
		return fmt.Errorf("load: %d of %d resources were not loaded (see the errors above)", total.Failed, total.Failed+total.Resources)
	case loadErr != nil:
		return fmt.Errorf("load: %w", loadErr)
	}
	return nil
}

// addStats adds b's figures to a's.
func addStats(a, b loader.Stats) loader.Stats {
	if a.PerType == nil {
		a.PerType = make(map[string]int)
	}
	a.Files += b.Files
	a.Requests += b.Requests
	a.Retries += b.Retries
	a.Resources += b.Resources
	a.Failed += b.Failed
	a.Errors = append(a.Errors, b.Errors...)
	for t, n := range b.PerType {
		a.PerType[t] += n
	}
	return a
}

// printStats writes the summary of a load: resources per type, seconds,
// resources per second.
func printStats(w io.Writer, st loader.Stats, took time.Duration) {
	types := make([]string, 0, len(st.PerType))
	for t := range st.PerType {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool {
		a, b := types[i], types[j]
		return st.PerType[a] > st.PerType[b] || st.PerType[a] == st.PerType[b] && a < b
	})
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, t := range types {
		fmt.Fprintf(tw, "  %s\t%9d\n", t, st.PerType[t])
	}
	tw.Flush()
	from := ""
	if st.Files > 0 {
		from = fmt.Sprintf(" from %d files", st.Files)
	}
	sec := took.Seconds()
	fmt.Fprintf(w, "loaded %d resources (%d types)%s in %d requests in %.1f s: %.0f resources/s\n",
		st.Resources, len(types), from, st.Requests, sec, float64(st.Resources)/max(sec, 1e-9))
	if st.Retries > 0 || st.Failed > 0 {
		fmt.Fprintf(w, "%d retries, %d resources failed\n", st.Retries, st.Failed)
	}
}

// bar is a [loader.Progress] drawn with a progress bar on a terminal.
type bar struct {
	w    io.Writer
	desc string
	show bool
	pb   *progressbar.ProgressBar
}

// newBar returns the progress of a load; it draws nothing unless show.
func newBar(w io.Writer, show bool, desc string) loader.Progress {
	return &bar{w: w, show: show, desc: desc}
}

func (b *bar) Start(total int) {
	if !b.show {
		return
	}
	b.pb = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(b.desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("resources"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(30),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
	)
}

func (b *bar) Add(n int) {
	if b.pb != nil {
		_ = b.pb.Add(n)
	}
}

// isTerminal reports whether w is a terminal, where a progress bar
// belongs; in a log file or a pipe it would be noise.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
