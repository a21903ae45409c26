// Package ndjson cuts a stream of records into NDJSON parts. A [Splitter]
// hands out one [Part] at a time; each Part is an io.Reader that streams its
// lines straight from the source, so memory is bounded by the reader's
// buffer, never by the size of a part or of the export.
package ndjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
)

// Line is one record: its JSON (one whole resource) and the cursor that
// identifies it in the source (a resumed export continues after it).
type Line struct {
	Data   []byte
	Cursor uint64
}

// Source yields lines until io.EOF. It is what a Splitter reads from.
type Source interface {
	Next(ctx context.Context) (Line, error)
}

// ErrEndPart, returned by a Source's Next, ends the part being read (if it
// has a line) without ending the source: the next part begins with the
// source's next line. A source that may wait long between lines returns it
// so that a part's consumer is not held open meanwhile.
var ErrEndPart = errors.New("ndjson: end of part")

// Limits say when a part is full. A part holds at least one line, even one
// longer than MaxBytes.
type Limits struct {
	MaxLines int
	MaxBytes int64
}

// Splitter cuts a Source into parts. It is not safe for concurrent use.
type Splitter struct {
	src     Source
	lim     Limits
	pending *Line
	err     error
	eof     bool
}

// NewSplitter returns a Splitter over src.
func NewSplitter(src Source, lim Limits) *Splitter {
	return &Splitter{src: src, lim: lim}
}

// More reports whether the source has another line, reading it ahead if
// needed. After a part, More tells whether that part was the last.
func (s *Splitter) More(ctx context.Context) (bool, error) {
	for {
		more, err := s.more(ctx)
		if !errors.Is(err, ErrEndPart) {
			return more, err
		}
	}
}

// more is More, except that it returns ErrEndPart from the source.
func (s *Splitter) more(ctx context.Context) (bool, error) {
	if s.pending != nil {
		return true, nil
	}
	if s.err != nil {
		return false, s.err
	}
	if s.eof {
		return false, nil
	}
	l, err := s.src.Next(ctx)
	if errors.Is(err, ErrEndPart) {
		return false, err
	}
	if errors.Is(err, io.EOF) {
		s.eof = true
		return false, nil
	}
	if err != nil {
		s.err = err
		return false, err
	}
	s.pending = &l
	return true, nil
}

// Next returns a reader over the next part. Call it only after More
// reported true, and read the part to its end before the next call.
//
// A Part keeps ctx because io.Reader has no context parameter; it is used
// only while the part is read.
func (s *Splitter) Next(ctx context.Context) *Part {
	return &Part{s: s, ctx: ctx}
}

// Part is one NDJSON part. Read fills its buffer completely until the part
// ends, which is what the object store needs to cut whole chunks.
type Part struct {
	s      *Splitter
	ctx    context.Context
	cur    []byte // rest of the current line
	nl     bool   // the current line's newline is still to be written
	lines  int
	bytes  int64
	cursor uint64
	ended  bool
}

// Read implements io.Reader.
func (p *Part) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		if len(p.cur) > 0 {
			c := copy(b[n:], p.cur)
			p.cur = p.cur[c:]
			n += c
			continue
		}
		if p.nl {
			b[n] = '\n'
			n++
			p.nl = false
			continue
		}
		ok, err := p.advance()
		if err != nil {
			return n, err
		}
		if !ok {
			return n, io.EOF
		}
	}
	return n, nil
}

// advance takes the next line into the part if it fits. A cancelled
// context ends the part with its error, so that the reader's consumer (the
// object store) cleans up what it stored.
func (p *Part) advance() (bool, error) {
	if p.ended {
		return false, nil
	}
	if err := context.Cause(p.ctx); err != nil {
		return false, err
	}
	more, err := p.s.more(p.ctx)
	if errors.Is(err, ErrEndPart) && p.lines > 0 {
		p.ended = true
		return false, nil
	}
	for errors.Is(err, ErrEndPart) {
		more, err = p.s.more(p.ctx) // a part has at least one line
	}
	if err != nil {
		return false, err
	}
	l := p.s.pending
	if !more || (p.lines > 0 && (p.lines >= p.s.lim.MaxLines ||
		p.bytes+int64(len(l.Data))+1 > p.s.lim.MaxBytes)) {
		p.ended = true
		return false, nil
	}
	p.s.pending = nil
	data := l.Data
	if bytes.IndexByte(data, '\n') >= 0 {
		// One line is one resource: a value stored pretty-printed by some
		// other writer is compacted rather than split across lines.
		var buf bytes.Buffer
		if err := json.Compact(&buf, data); err != nil {
			return false, err
		}
		data = buf.Bytes()
	}
	p.cur, p.nl = data, true
	p.lines++
	p.bytes += int64(len(data)) + 1
	p.cursor = l.Cursor
	return true, nil
}

// Lines returns how many lines the part has taken so far.
func (p *Part) Lines() int { return p.lines }

// Bytes returns how many bytes the part has taken so far, newlines included.
func (p *Part) Bytes() int64 { return p.bytes }

// Cursor returns the cursor of the part's last line.
func (p *Part) Cursor() uint64 { return p.cursor }
