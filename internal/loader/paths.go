package loader

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// LoadPaths loads the files at paths, and the .json, .ndjson and .jsonl
// files (also gzipped) in folders at paths, recursively. Bundles and
// NDJSON files go first, single-resource files last, so that a bare
// resource referring to Bundle entries by urn:uuid (Synthea's Group) is
// rewritten to refer to them by Type/id. The error is [ErrIncomplete] when
// some resources failed ([Stats.Errors] says which), [ErrUnreachable] or
// [ErrUnauthorized] when the load stopped, or what was wrong with paths.
func (l *Loader) LoadPaths(ctx context.Context, paths []string, progress Progress) (Stats, error) {
	srcs, err := collect(paths)
	if err != nil {
		return Stats{}, err
	}
	r := l.newRun(progress)
	r.progress.Start(l.plan(ctx, srcs))
	r.stats.Files = len(srcs)
	return r.execute(ctx, func(ctx context.Context, send func(request) error) error {
		urns := make(map[string]string)
		for _, singles := range []bool{false, true} {
			for _, s := range srcs {
				if s.single != singles {
					continue
				}
				if s.err != nil {
					r.skipped(s.path, s.count, s.err.Error())
					continue
				}
				var err error
				switch s.format {
				case formatJSON:
					err = r.sendJSON(s, urns, send)
				case formatNDJSON:
					err = r.sendNDJSON(s, send)
				}
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// sendJSON sends one JSON file. Problems with the file are recorded; the
// error is only send's, which means the load stops.
func (r *run) sendJSON(s *source, urns map[string]string, send func(request) error) error {
	b, err := s.readAll(r.l.cfg.MaxBodyBytes)
	if err != nil {
		r.skipped(s.path, s.count, err.Error())
		return nil
	}
	d, err := parseDocument(b)
	if err != nil {
		r.skipped(s.path, s.count, err.Error())
		return nil
	}
	switch d.kind() {
	case kindBatch:
		entries := make([]entry, len(d.Entry))
		for i := range d.Entry {
			e := &d.Entry[i]
			entries[i] = e.target()
			if len(e.FullURL) > len(urnPrefix) && e.FullURL[:len(urnPrefix)] == urnPrefix && entries[i].id != "" {
				urns[e.FullURL] = entries[i].typ + "/" + entries[i].id
			}
		}
		return send(request{label: s.path, method: "POST", path: "/fhir", body: b, entries: entries, bundle: true})
	case kindCollection:
		return r.sendCollection(s, b, send)
	}
	if !validName(d.ResourceType) {
		r.skipped(s.path, 1, fmt.Sprintf("resourceType %q is not a FHIR resource type", d.ResourceType))
		return nil
	}
	body, err := rewriteRefs(b, urns)
	if err != nil {
		r.skipped(s.path, 1, err.Error())
		return nil
	}
	req := request{label: s.path, method: "POST", path: "/fhir/" + d.ResourceType, body: body,
		entries: []entry{{typ: d.ResourceType, id: d.ID}}}
	if d.ID != "" {
		if !validID(d.ID) {
			r.skipped(s.path, 1, fmt.Sprintf("id %q is not a FHIR id (1 to 64 of A-Z a-z 0-9 - .)", d.ID))
			return nil
		}
		req.method, req.path = "PUT", req.path+"/"+d.ID
	}
	return send(req)
}

// sendCollection sends the resources of a collection, searchset or
// history Bundle as batches.
func (r *run) sendCollection(s *source, b []byte, send func(request) error) error {
	var d struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		r.skipped(s.path, s.count, err.Error())
		return nil
	}
	bt := newBatcher(r.l, func(first, last int) string {
		return fmt.Sprintf("%s entries %d-%d", s.path, first, last)
	}, send)
	for i, e := range d.Entry {
		if err := r.addResource(bt, e.Resource, fmt.Sprintf("%s entry %d", s.path, i), i); err != nil {
			return err
		}
	}
	return bt.flush()
}

// sendNDJSON streams an NDJSON file as batches of BatchSize lines.
func (r *run) sendNDJSON(s *source, send func(request) error) error {
	rc, err := s.open()
	if err != nil {
		r.skipped(s.path, s.count, err.Error())
		return nil
	}
	defer rc.Close()
	return r.sendLines(s.path, rc, send)
}

// sendLines sends the resources of NDJSON read from rd, named name.
func (r *run) sendLines(name string, rd io.Reader, send func(request) error) error {
	bt := newBatcher(r.l, func(first, last int) string {
		return fmt.Sprintf("%s lines %d-%d", name, first, last)
	}, send)
	br := bufio.NewReaderSize(rd, 256<<10)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if t := bytes.TrimSpace(line); len(t) > 0 {
			if err := r.addResource(bt, t, name+" line "+strconv.Itoa(n), n); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.skipped(name, 1, fmt.Sprintf("read after line %d: %v", n, err))
			break
		}
	}
	return bt.flush()
}

// addResource checks one resource and adds it to bt, or records why it
// cannot be sent.
func (r *run) addResource(bt *batcher, raw []byte, where string, pos int) error {
	var d struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	switch err := json.Unmarshal(raw, &d); {
	case err != nil:
		r.skipped(where, 1, fmt.Sprintf("%v: %s", ErrNotResource, jsonProblem(err)))
	case d.ResourceType == "":
		r.skipped(where, 1, fmt.Sprintf("%v: no resourceType", ErrNotResource))
	case !validName(d.ResourceType):
		r.skipped(where, 1, fmt.Sprintf("%v: resourceType %q is not a FHIR resource type", ErrNotResource, d.ResourceType))
	case d.ID != "" && !validID(d.ID):
		r.skipped(where, 1, fmt.Sprintf("id %q is not a FHIR id (1 to 64 of A-Z a-z 0-9 - .)", d.ID))
	case len(raw)+entryOverhead+len(batchHead)+len(batchTail) > r.l.cfg.MaxBatchBytes:
		r.skipped(where, 1, fmt.Sprintf("%s/%s is %d bytes, more than fits in one request (%d)", d.ResourceType, d.ID, len(raw), r.l.cfg.MaxBatchBytes))
	default:
		return bt.add(entry{typ: d.ResourceType, id: d.ID}, raw, pos)
	}
	return nil
}
