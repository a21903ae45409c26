package ndjson

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
)

// sliceSource yields its lines; a line without data stands for ErrEndPart.
type sliceSource struct{ lines []Line }

func (s *sliceSource) Next(context.Context) (Line, error) {
	if len(s.lines) == 0 {
		return Line{}, io.EOF
	}
	l := s.lines[0]
	s.lines = s.lines[1:]
	if l.Data == nil {
		return Line{}, ErrEndPart
	}
	return l, nil
}

func lines(n, size int) []Line {
	out := make([]Line, n)
	for i := range out {
		pad := strings.Repeat("x", max(0, size-len(`{"i":,"p":""}`)-len(fmt.Sprint(i))))
		out[i] = Line{Data: []byte(fmt.Sprintf(`{"i":%d,"p":"%s"}`, i, pad)), Cursor: uint64(i + 1)}
	}
	return out
}

// oneByteReads reads like a consumer that asks for tiny buffers.
func readAll(t *testing.T, r io.Reader, bufSize int) []byte {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, bufSize)
	for {
		n, err := r.Read(buf)
		if n < len(buf) && err == nil {
			t.Fatalf("short read %d of %d without EOF: the object store would cut a short chunk", n, len(buf))
		}
		out.Write(buf[:n])
		if err == io.EOF {
			return out.Bytes()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestSplitter(t *testing.T) {
	tests := []struct {
		name      string
		lines     []Line
		lim       Limits
		wantParts []int // lines per part
	}{
		{"empty source has no part", nil, Limits{MaxLines: 10, MaxBytes: 1 << 20}, nil},
		{"one part", lines(5, 50), Limits{MaxLines: 10, MaxBytes: 1 << 20}, []int{5}},
		{"rolls by lines", lines(25, 50), Limits{MaxLines: 10, MaxBytes: 1 << 20}, []int{10, 10, 5}},
		{"exact multiple", lines(20, 50), Limits{MaxLines: 10, MaxBytes: 1 << 20}, []int{10, 10}},
		{"rolls by bytes", lines(10, 100), Limits{MaxLines: 1000, MaxBytes: 350}, []int{3, 3, 3, 1}},
		{"a line over the byte limit stands alone", lines(3, 500), Limits{MaxLines: 1000, MaxBytes: 100}, []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSplitter(&sliceSource{lines: append([]Line(nil), tt.lines...)}, tt.lim)
			var got []int
			split(t, s, 64, tt.lines, func(p *Part, data []byte) {
				if int64(len(data)) != p.Bytes() {
					t.Errorf("part bytes %d, counted %d", len(data), p.Bytes())
				}
				if p.Bytes() > tt.lim.MaxBytes && p.Lines() > 1 {
					t.Errorf("part of %d bytes over the limit %d", p.Bytes(), tt.lim.MaxBytes)
				}
				if p.Cursor() != tt.lines[sum(got)+p.Lines()-1].Cursor {
					t.Errorf("cursor %d, want that of the part's last line", p.Cursor())
				}
				got = append(got, p.Lines())
			})
			if fmt.Sprint(got) != fmt.Sprint(tt.wantParts) {
				t.Errorf("parts %v, want %v", got, tt.wantParts)
			}
		})
	}
}

// A source's ErrEndPart ends the part being read when it has a line, and
// is passed over otherwise: between parts, and at a part's start.
func TestSourceEndsPart(t *testing.T) {
	ls := lines(9, 40)
	end := Line{}
	src := []Line{end, ls[0], ls[1], end, end, ls[2], end, ls[3], ls[4], ls[5], ls[6], end, ls[7], ls[8], end}
	s := NewSplitter(&sliceSource{lines: src}, Limits{MaxLines: 3, MaxBytes: 1 << 20})
	var got []int
	split(t, s, 16, ls, func(p *Part, _ []byte) { got = append(got, p.Lines()) })
	if want := []int{2, 1, 3, 1, 2}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parts %v, want %v", got, want)
	}
}

// split reads every part of s in reads of bufSize bytes, hands each to
// check with its data, and checks that the parts together are want's
// lines.
func split(t *testing.T, s *Splitter, bufSize int, want []Line, check func(p *Part, data []byte)) {
	t.Helper()
	ctx := context.Background()
	var all []byte
	for {
		more, err := s.More(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
		p := s.Next(ctx)
		data := readAll(t, p, bufSize)
		check(p, data)
		all = append(all, data...)
	}
	var wantAll []byte
	for _, l := range want {
		wantAll = append(append(wantAll, l.Data...), '\n')
	}
	if !bytes.Equal(all, wantAll) {
		t.Errorf("concatenated parts differ from the source lines")
	}
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func TestPrettyValueBecomesOneLine(t *testing.T) {
	ctx := context.Background()
	s := NewSplitter(&sliceSource{lines: []Line{{Data: []byte("{\n  \"a\": 1\n}"), Cursor: 1}}}, Limits{MaxLines: 10, MaxBytes: 1000})
	if more, _ := s.More(ctx); !more {
		t.Fatal("no part")
	}
	got := readAll(t, s.Next(ctx), 4)
	if string(got) != "{\"a\":1}\n" {
		t.Errorf("got %q", got)
	}
}

func BenchmarkPart(b *testing.B) {
	src := lines(10000, 1024)
	buf := make([]byte, 128<<10)
	b.SetBytes(int64(len(src)) * 1025)
	for b.Loop() {
		s := NewSplitter(&sliceSource{lines: append([]Line(nil), src...)}, Limits{MaxLines: 1 << 30, MaxBytes: 1 << 40})
		ctx := context.Background()
		for more, _ := s.More(ctx); more; more, _ = s.More(ctx) {
			p := s.Next(ctx)
			for {
				if _, err := p.Read(buf); err != nil {
					break
				}
			}
		}
	}
}
