package exporter

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/internal/ndjson"
)

func TestGroupTypes(t *testing.T) {
	many := func(n int) ([]string, map[string]int64) {
		var types []string
		totals := map[string]int64{}
		for i := range n {
			typ := fmt.Sprintf("T%02d", i)
			types = append(types, typ)
			totals[typ] = 1
		}
		return types, totals
	}
	manyTypes, manyTotals := many(40)
	synthea := map[string]int64{"Patient": 20, "Encounter": 100, "Observation": 720, "Condition": 80, "Procedure": 60, "Device": 0}
	order := []string{"Patient", "Encounter", "Observation", "Condition", "Procedure", "Device"}
	for _, tc := range []struct {
		name   string
		types  []string
		totals map[string]int64
		limit  int64
		want   [][]string
	}{
		{"all in one pass, job order kept, empty type left out", order, synthea, 1000,
			[][]string{{"Patient", "Encounter", "Observation", "Condition", "Procedure"}}},
		{"a large type alone, the rest together", order, synthea, 500,
			[][]string{{"Observation"}, {"Patient", "Encounter", "Condition", "Procedure"}}},
		{"first fit by decreasing size", order, synthea, 150,
			[][]string{{"Observation"}, {"Patient", "Encounter"}, {"Condition", "Procedure"}}},
		{"limit 1: a task per type, largest first", order, synthea, 1,
			[][]string{{"Observation"}, {"Encounter"}, {"Condition"}, {"Procedure"}, {"Patient"}}},
		{"a type asked twice is one", []string{"Patient", "Patient"}, synthea, 1000, [][]string{{"Patient"}}},
		{"nothing to read: no task", []string{"Device"}, synthea, 1000, nil},
		{"at most maxTaskTypes types a task", manyTypes, manyTotals, 1000, [][]string{manyTypes[:maxTaskTypes], manyTypes[maxTaskTypes:]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, groupTypes(tc.types, tc.totals, tc.limit)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// writeAll cuts a lane into parts as writeParts does, reading each part in
// chunks of chunk bytes as the object store does, and returns each part's
// text and whether its lane ended it early.
func writeAll(t *testing.T, l *lane, chunk int, more func(part int)) (parts []string, early []bool) {
	t.Helper()
	ctx := context.Background()
	split := ndjson.NewSplitter(l, ndjson.Limits{MaxLines: 1000, MaxBytes: 1 << 20})
	for {
		ok, err := split.More(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return parts, early
		}
		r := l.begin(split.Next(ctx))
		var b []byte
		buf := make([]byte, chunk)
		for {
			n, err := r.Read(buf)
			b = append(b, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		l.end()
		parts, early = append(parts, string(b)), append(early, l.ended)
		if more != nil {
			more(len(parts))
		}
	}
}

// A lane that stays empty while a part is open ends the part, so that a
// sparse type's object is not held open, its chunks unreferenced, for a
// whole pass; its next record starts the next part.
func TestIdleLaneEndsThePart(t *testing.T) {
	l := newLane("Patient", nil, 20*time.Millisecond)
	l.ch <- ndjson.Line{Data: []byte(`{"a":1}`), Cursor: 1}
	l.ch <- ndjson.Line{Data: []byte(`{"a":2}`), Cursor: 2}
	parts, early := writeAll(t, l, 512<<10, func(n int) {
		if n == 1 { // after the idle cut: one more record, then the end
			l.ch <- ndjson.Line{Data: []byte(`{"a":3}`), Cursor: 7}
			close(l.ch)
		}
	})
	want := []string{"{\"a\":1}\n{\"a\":2}\n", "{\"a\":3}\n"}
	if diff := cmp.Diff(want, parts); diff != "" {
		t.Errorf("parts (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]bool{true, false}, early); diff != "" {
		t.Errorf("ended early (-want +got)\n%s", diff)
	}
}

// Records that keep coming but fill no chunk do not keep a part open: it
// ends once it has had no new chunk for the lane's cut. A part that hands
// over chunks as it goes is not cut.
func TestLaneEndsAPartWithoutNewChunks(t *testing.T) {
	for _, tc := range []struct {
		name      string
		chunk     int
		wantParts func(n int) bool
	}{
		{"no chunk filled: cut every 30 ms", 512 << 10, func(n int) bool { return n >= 3 }},
		{"a chunk every few records: one part", 64, func(n int) bool { return n == 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLane("Patient", nil, 30*time.Millisecond)
			// A clock that moves 1 ms each time the lane reads it: records
			// arrive slowly, without a real wait.
			clock := time.Unix(0, 0)
			l.now = func() time.Time { clock = clock.Add(time.Millisecond); return clock }
			var want string
			for i := range 100 {
				data := fmt.Sprintf(`{"i":%d}`, i)
				l.ch <- ndjson.Line{Data: []byte(data), Cursor: uint64(i + 1)}
				want += data + "\n"
			}
			close(l.ch)
			parts, _ := writeAll(t, l, tc.chunk, nil)
			if !tc.wantParts(len(parts)) {
				t.Errorf("%d parts", len(parts))
			}
			var got string
			for _, p := range parts {
				got += p
			}
			if got != want {
				t.Errorf("the parts together differ from the records")
			}
		})
	}
}
