package loader

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// Loader sends records to the gateway and drives its export API. It is
// safe for concurrent use.
type Loader struct {
	cfg     Config
	base    string      // cfg.URL without a trailing slash
	reached atomic.Bool // the gateway has answered at least once
	retried atomic.Int64
}

// New returns a Loader for cfg, with defaults applied.
func New(cfg Config) (*Loader, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("loader config: %w", err)
	}
	return &Loader{cfg: cfg, base: strings.TrimRight(cfg.URL, "/")}, nil
}

// Progress receives a load's progress, counted in resources. The Loader
// never calls it from two goroutines at once.
type Progress interface {
	// Start is called once, before any Add, with the number of resources
	// the load will send.
	Start(total int)
	// Add reports n more resources answered, loaded or failed.
	Add(n int)
}

// Stats is the outcome of a load.
type Stats struct {
	// Files is the number of files read.
	Files int
	// Requests is the number of requests answered (retries not counted).
	Requests int
	// Retries is the number of requests sent again after a 429, a 503 or
	// a network error.
	Retries int
	// Resources is the number of resources the gateway stored.
	Resources int
	// PerType counts the stored resources by type.
	PerType map[string]int
	// Failed is the number of resources not stored.
	Failed int
	// Errors says what failed, one message per failed request or entry,
	// naming the file; at most [Config.MaxErrors] of them.
	Errors []string
}

// ErrIncomplete is returned, with the [Stats] of the load, when some
// resources were not stored: Stats.Errors says which and why.
var ErrIncomplete = errors.New("some resources were not loaded")

// entry names one resource a request carries.
type entry struct{ typ, id string }

// ref returns "Type/id", or the type alone when the id is not known.
func (e entry) ref() string {
	if e.id == "" {
		return e.typ
	}
	return e.typ + "/" + e.id
}

// request is one write to the gateway: a Bundle (POST /fhir, answered by a
// batch- or transaction-response) or a single resource.
type request struct {
	label   string // where the resources came from: a file, lines of a file
	method  string
	path    string
	body    []byte
	entries []entry
	bundle  bool
}

// run is one load: workers send what produce hands them until produce
// returns, a fatal error stops everything, or ctx ends.
type run struct {
	l        *Loader
	progress Progress
	mu       sync.Mutex // guards stats and serialises progress
	stats    Stats
}

func (l *Loader) newRun(progress Progress) *run {
	if progress == nil {
		progress = nopProgress{}
	}
	return &run{l: l, progress: progress, stats: Stats{PerType: make(map[string]int)}}
}

type nopProgress struct{}

func (nopProgress) Start(int) {}
func (nopProgress) Add(int)   {}

// execute runs produce, which calls send for each request, with
// Concurrency workers sending them.
func (r *run) execute(ctx context.Context, produce func(ctx context.Context, send func(request) error) error) (Stats, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	retriedBefore := r.l.retried.Load()
	reqs := make(chan request)
	var wg sync.WaitGroup
	for range r.l.cfg.Concurrency {
		wg.Go(func() {
			for req := range reqs {
				if err := r.do(ctx, req); err != nil {
					cancel(err)
				}
			}
		})
	}
	send := func(req request) error {
		select {
		case reqs <- req:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	perr := produce(ctx, send)
	close(reqs)
	wg.Wait()

	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Retries = int(r.l.retried.Load() - retriedBefore)
	st := r.stats
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return st, cause
	}
	if perr != nil {
		return st, perr
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if st.Failed > 0 {
		return st, fmt.Errorf("%d of %d resources: %w", st.Failed, st.Failed+st.Resources, ErrIncomplete)
	}
	return st, nil
}

// do sends one request and records its outcome. It returns an error only
// when the whole load must stop: the gateway is unreachable or refuses
// the key.
func (r *run) do(ctx context.Context, req request) error {
	c := call{
		method: req.method,
		url:    r.l.base + req.path,
		body:   req.body,
		header: http.Header{
			"X-Api-Key":    {r.l.cfg.Key},
			"Content-Type": {"application/fhir+json"},
			"Accept":       {"application/fhir+json"},
		},
	}
	ctx, cancel := context.WithTimeout(ctx, r.l.cfg.Timeout)
	defer cancel()
	resp, err := r.l.send(ctx, c)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, ErrUnreachable) {
			return err
		}
		r.failed(req, len(req.entries), err.Error())
		return nil
	}
	body, err := readAnswer(c, resp)
	if errors.Is(err, ErrUnauthorized) {
		return err
	}
	if err != nil {
		r.failed(req, len(req.entries), err.Error())
		return nil
	}
	if !req.bundle {
		r.loaded(req.entries)
		return nil
	}
	r.bundleAnswer(req, body)
	return nil
}

// loaded records entries as stored by one request.
func (r *run) loaded(entries []entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Requests++
	r.stats.Resources += len(entries)
	for _, e := range entries {
		r.stats.PerType[e.typ]++
	}
	r.progress.Add(len(entries))
}

// failed records n resources of req as not stored, for reason.
func (r *run) failed(req request, n int, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Requests++
	r.stats.Failed += n
	r.note(req.label + ": " + reason)
	r.progress.Add(n)
}

// skipped records n resources that were never sent: the file they are in
// could not be read or understood.
func (r *run) skipped(label string, n int, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Failed += n
	r.note(label + ": " + reason)
	r.progress.Add(n)
}

// note keeps an error message; r.mu is held.
func (r *run) note(msg string) {
	switch max := r.l.cfg.MaxErrors; {
	case len(r.stats.Errors) < max:
		r.stats.Errors = append(r.stats.Errors, msg)
	case len(r.stats.Errors) == max:
		r.stats.Errors = append(r.stats.Errors, "further errors left out")
	}
}
