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

// A lane that stays empty ends the part being written, so that a sparse
// type's object is not held open, its chunks unreferenced, for a whole
// pass; its next record starts the next part.
func TestIdleLaneEndsThePart(t *testing.T) {
	ctx := context.Background()
	l := &lane{typ: "Patient", ch: make(chan ndjson.Line, laneDepth), idle: 20 * time.Millisecond}
	split := ndjson.NewSplitter(l, ndjson.Limits{MaxLines: 1000, MaxBytes: 1 << 20})
	l.ch <- ndjson.Line{Data: []byte(`{"a":1}`), Cursor: 1}
	l.ch <- ndjson.Line{Data: []byte(`{"a":2}`), Cursor: 2}
	part := func() (string, uint64) {
		t.Helper()
		more, err := split.More(ctx)
		if err != nil || !more {
			t.Fatalf("More = %v, %v", more, err)
		}
		p := split.Next(ctx)
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b), p.Cursor()
	}
	if got, cursor := part(); got != "{\"a\":1}\n{\"a\":2}\n" || cursor != 2 {
		t.Errorf("first part %q ending at %d, want the two records sent before the lane went idle", got, cursor)
	}
	l.ch <- ndjson.Line{Data: []byte(`{"a":3}`), Cursor: 7}
	close(l.ch)
	if got, cursor := part(); got != "{\"a\":3}\n" || cursor != 7 {
		t.Errorf("second part %q ending at %d", got, cursor)
	}
	if more, err := split.More(ctx); more || err != nil {
		t.Errorf("after the lane closed: More = %v, %v", more, err)
	}
}
