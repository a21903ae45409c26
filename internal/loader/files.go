package loader

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// format is how a file holds its resources.
type format int

const (
	formatJSON   format = iota // one JSON document: a Bundle or a single resource
	formatNDJSON               // one resource per line
)

// source is one input file.
type source struct {
	path   string
	format format
	gz     bool
	// Filled by plan:
	count  int   // resources it holds (1 when it cannot be read)
	single bool  // a JSON file holding one resource, not a Bundle
	err    error // why it cannot be loaded, found while planning
}

// formatOf classifies a file by its name.
func formatOf(name string) (f format, gz, ok bool) {
	n := strings.ToLower(name)
	if strings.HasSuffix(n, ".gz") {
		gz, n = true, strings.TrimSuffix(n, ".gz")
	}
	switch {
	case strings.HasSuffix(n, ".json"):
		return formatJSON, gz, true
	case strings.HasSuffix(n, ".ndjson"), strings.HasSuffix(n, ".jsonl"):
		return formatNDJSON, gz, true
	}
	return 0, false, false
}

// ErrNoFiles is returned when the paths given hold no file to load.
var ErrNoFiles = errors.New("no .json or .ndjson files found")

// collect expands paths to the files to load: files as given (they must
// have a known extension), folders walked recursively for .json, .ndjson
// and .jsonl files (also gzipped), skipping everything else and hidden
// entries.
func collect(paths []string) ([]*source, error) {
	var out []*source
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", p, err)
		}
		if !info.IsDir() {
			f, gz, ok := formatOf(p)
			if !ok {
				return nil, fmt.Errorf("load %s: not a .json, .ndjson or .jsonl file (optionally .gz)", p)
			}
			out = append(out, &source{path: p, format: f, gz: gz})
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if path != p && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			if f, gz, ok := formatOf(d.Name()); ok {
				out = append(out, &source{path: path, format: f, gz: gz})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", p, err)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("load %s: %w", strings.Join(paths, " "), ErrNoFiles)
	}
	return out, nil
}

// open returns the contents of s, decompressed.
func (s *source) open() (io.ReadCloser, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, err
	}
	if !s.gz {
		return f, nil
	}
	z, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return struct {
		io.Reader
		io.Closer
	}{z, f}, nil
}

// errTooLarge: a JSON file is bigger than the gateway accepts.
var errTooLarge = errors.New("too large")

// readAll reads a JSON file whole, refusing one over limit bytes.
func (s *source) readAll(limit int64) ([]byte, error) {
	rc, err := s.open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: over the gateway's %d MiB limit for one request; split it into smaller Bundles", errTooLarge, limit>>20)
	}
	return b, nil
}

// plan counts the resources of every source, so that progress has a
// total, and finds which JSON files are single resources.
func (l *Loader) plan(ctx context.Context, srcs []*source) int {
	total := 0
	for _, s := range srcs {
		if ctx.Err() != nil {
			return total
		}
		s.count, s.err = 1, nil
		switch s.format {
		case formatJSON:
			b, err := s.readAll(l.cfg.MaxBodyBytes)
			if err != nil {
				s.err = err
				break
			}
			d, err := parseDocument(b)
			if err != nil {
				s.err = err
				break
			}
			s.single = d.ResourceType != "Bundle"
			if !s.single {
				s.count = len(d.Entry)
			}
		case formatNDJSON:
			n, err := s.countLines()
			s.count, s.err = max(n, 1), err
		}
		total += s.count
	}
	return total
}

// countLines counts the lines of an NDJSON file that are not blank.
func (s *source) countLines() (int, error) {
	rc, err := s.open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return countLines(rc)
}

// countLines counts the lines of rd that are not blank.
func countLines(rd io.Reader) (int, error) {
	r := bufio.NewReaderSize(rd, 256<<10)
	n, blank := 0, true
	for {
		chunk, err := r.ReadSlice('\n')
		if blank && len(bytes.TrimSpace(chunk)) > 0 {
			blank = false
		}
		if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' || err == io.EOF {
			if !blank {
				n++
			}
			blank = true
		}
		switch {
		case err == io.EOF:
			return n, nil
		case err != nil && !errors.Is(err, bufio.ErrBufferFull):
			return n, err
		}
	}
}
