package loader

import (
	"fmt"
)

// batcher packs resources into batch Bundles of PUT entries (POST when a
// resource has no id) and hands each full Bundle to send.
type batcher struct {
	maxEntries, maxBytes int
	label                func(first, last int) string
	send                 func(request) error

	buf         []byte
	entries     []entry
	first, last int // positions (lines, resource numbers) of the batch
}

const (
	batchHead = `{"resourceType":"Bundle","type":"batch","entry":[`
	batchTail = `]}`
)

// entryOverhead bounds the bytes an entry adds around its resource.
const entryOverhead = len(`{"resource":,"request":{"method":"POST","url":"/"}},`) + 64 + 64

func newBatcher(l *Loader, label func(first, last int) string, send func(request) error) *batcher {
	return &batcher{
		maxEntries: l.cfg.BatchSize,
		maxBytes:   l.cfg.MaxBatchBytes,
		label:      label,
		send:       send,
	}
}

// add appends resource (a JSON object of type e.typ and id e.id, both
// already checked by validName and validID) found at position pos.
func (b *batcher) add(e entry, resource []byte, pos int) error {
	size := len(resource) + entryOverhead
	if len(b.entries) > 0 && len(b.buf)+size+len(batchTail) > b.maxBytes {
		if err := b.flush(); err != nil {
			return err
		}
	}
	if len(b.entries) == 0 {
		b.buf = append(b.buf[:0], batchHead...)
		b.first = pos
	} else {
		b.buf = append(b.buf, ',')
	}
	b.buf = append(b.buf, `{"resource":`...)
	b.buf = append(b.buf, resource...)
	if e.id == "" {
		b.buf = append(b.buf, `,"request":{"method":"POST","url":"`...)
		b.buf = append(b.buf, e.typ...)
	} else {
		b.buf = append(b.buf, `,"request":{"method":"PUT","url":"`...)
		b.buf = append(b.buf, e.typ...)
		b.buf = append(b.buf, '/')
		b.buf = append(b.buf, e.id...)
	}
	b.buf = append(b.buf, `"}}`...)
	b.entries = append(b.entries, e)
	b.last = pos
	if len(b.entries) >= b.maxEntries {
		return b.flush()
	}
	return nil
}

// flush sends the pending batch, if any.
func (b *batcher) flush() error {
	if len(b.entries) == 0 {
		return nil
	}
	b.buf = append(b.buf, batchTail...)
	req := request{
		label:   b.label(b.first, b.last),
		method:  "POST",
		path:    "/fhir",
		body:    b.buf,
		entries: b.entries,
		bundle:  true,
	}
	// The request now owns the slices: start the next batch afresh.
	b.buf = make([]byte, 0, cap(b.buf))
	b.entries = make([]entry, 0, cap(b.entries))
	if err := b.send(req); err != nil {
		return fmt.Errorf("send %s: %w", req.label, err)
	}
	return nil
}

// validName reports whether s can be a FHIR resource type: an upper-case
// letter, then letters. The gateway decides whether it is a known one.
func validName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' || len(s) > 64 {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// validID reports whether s is a FHIR id: 1 to 64 of [A-Za-z0-9-.].
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
