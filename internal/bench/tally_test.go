package bench

import (
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/events"
)

func TestCount(t *testing.T) {
	ev := func(p events.Payload) events.Event {
		return events.New("id", time.Unix(0, 0), tenant, "job_01JNM0000000000000000000AA", p)
	}
	chunk := func(typ string, n int) events.Event {
		return ev(&events.ChunkWritten{ResourceType: typ, Part: n})
	}
	tests := []struct {
		name    string
		evs     []events.Event
		want    Work
		wantErr bool
	}{
		{name: "split between two workers",
			evs: []events.Event{
				ev(&events.ExportTaskQueued{ResourceType: "Observation", ResourceTypes: []string{"Observation"}, Index: 1, Of: 2}),
				ev(&events.ExportTaskQueued{ResourceType: "Patient", ResourceTypes: []string{"Patient", "Condition"}, Index: 2, Of: 2}),
				chunk("Patient", 1), chunk("Condition", 1), chunk("Observation", 1), chunk("Observation", 2),
				ev(&events.ExportTaskFinished{ResourceType: "Patient", WorkerID: "a", Resources: 10}),
				ev(&events.ExportTaskFinished{ResourceType: "Condition", WorkerID: "a", Resources: 5}),
				ev(&events.ExportTaskFinished{ResourceType: "Observation", WorkerID: "b", Resources: 20})},
			want: Work{Tasks: map[string]int{"a": 1, "b": 1}, Types: map[string]int{"a": 2, "b": 1},
				Resources: map[string]int64{"a": 15, "b": 20}, ChunkEvents: 4, Parts: 4}},
		{name: "a task per type, before plans were recorded",
			evs: []events.Event{ev(&events.ExportTaskQueued{ResourceType: "Patient", Index: 1, Of: 1}),
				ev(&events.ExportTaskFinished{ResourceType: "Patient", WorkerID: "a", Resources: 10})},
			want: Work{Tasks: map[string]int{"a": 1}, Types: map[string]int{"a": 1}, Resources: map[string]int64{"a": 10}}},
		{name: "a part recorded twice",
			evs: []events.Event{chunk("Patient", 1), chunk("Patient", 2), chunk("Patient", 1)},
			want: Work{Tasks: map[string]int{}, Types: map[string]int{}, Resources: map[string]int64{}, ChunkEvents: 3, Parts: 2,
				Twice: []string{"Patient.1"}},
			wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := count(tt.evs)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("count (-want +got):\n%s", d)
			}
			if err := got.check(); (err != nil) != tt.wantErr {
				t.Errorf("check() = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestProcCPU(t *testing.T) {
	deadline := time.Now().Add(10 * time.Second)
	x := 0
	for procCPU(os.Getpid()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("procCPU of this busy process stayed 0")
		}
		for i := range 1_000_000 {
			x += i % 7
		}
	}
	if procCPU(-1) != 0 {
		t.Error("procCPU of no process is not 0")
	}
	_ = x
}
