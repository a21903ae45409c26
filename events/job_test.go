package events_test

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/events"
)

func TestPercent(t *testing.T) {
	tests := []struct {
		name      string
		job       events.Job
		want      float64
		wantKnown bool
	}{
		{name: "pending, no totals yet", job: pendingJob(), want: 0, wantKnown: false},
		{name: "processing without totals", job: with(processingJob(), func(j *events.Job) { j.Totals = nil }), want: 0, wantKnown: false},
		{name: "started, nothing scanned", job: processingJob(), want: 0, wantKnown: true},
		{name: "every total zero", job: events.Job{Status: events.StatusProcessing, Totals: map[string]int64{"Patient": 0}}, want: 0, wantKnown: true},
		{name: "empty totals", job: events.Job{Status: events.StatusProcessing, Totals: map[string]int64{}}, want: 0, wantKnown: true},
		{name: "part way, from the fold", job: afterO1(), want: 500.0 / 7, wantKnown: true},
		{
			name: "half",
			job: events.Job{Status: events.StatusProcessing, Totals: map[string]int64{"Patient": 100, "Observation": 300},
				Scanned: map[string]int64{"Patient": 100, "Observation": 100}},
			want: 50, wantKnown: true,
		},
		{
			name: "scanned beyond a type's total counts as that total",
			job: events.Job{Status: events.StatusProcessing, Totals: map[string]int64{"Patient": 100, "Observation": 100},
				Scanned: map[string]int64{"Patient": 150}},
			want: 50, wantKnown: true,
		},
		{
			name: "scanned types without a total are not counted",
			job: events.Job{Status: events.StatusProcessing, Totals: map[string]int64{"Patient": 100},
				Scanned: map[string]int64{"Patient": 50, "Encounter": 1000}},
			want: 50, wantKnown: true,
		},
		{name: "completed, from the fold", job: completedJob(), want: 100, wantKnown: true},
		{name: "completed without totals", job: events.Job{Status: events.StatusCompleted}, want: 100, wantKnown: true},
		{name: "failed keeps how far it got", job: failedJob(afterP1(), 4, 3), want: 200.0 / 7, wantKnown: true},
		{name: "cancelled keeps how far it got", job: cancelledJob(afterP1(), 4, 3), want: 200.0 / 7, wantKnown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, known := tt.job.Percent()
			if math.Abs(got-tt.want) > 1e-9 || known != tt.wantKnown {
				t.Errorf("Percent() = %v, %v; want %v, %v", got, known, tt.want, tt.wantKnown)
			}
		})
	}
}

func TestStatusTerminal(t *testing.T) {
	tests := []struct {
		status events.Status
		want   bool
	}{
		{events.StatusPending, false},
		{events.StatusProcessing, false},
		{events.StatusCompleted, true},
		{events.StatusFailed, true},
		{events.StatusCancelled, true},
		{events.StatusExpired, true},
		{events.Status(""), false},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			if got := tt.status.Terminal(); got != tt.want {
				t.Errorf("%q.Terminal() = %v, want %v", tt.status, got, tt.want)
			}
		})
	}
}

// TestApplyUpdatedAt checks that a job's UpdatedAt is the time of the last
// event that changed it.
func TestApplyUpdatedAt(t *testing.T) {
	var j events.Job
	for _, e := range lifeEvents() {
		j = events.Apply(j, e)
		if !j.UpdatedAt.Equal(e.Time) {
			t.Errorf("after %s: UpdatedAt %s, want the event's time %s", e.Type, j.UpdatedAt, e.Time)
		}
	}
	hook := ev(7, 70, attempt{id: "d1", n: 1, status: 200, delivered: true}.payload())
	if j = events.Apply(j, hook); !j.UpdatedAt.Equal(at(70)) {
		t.Errorf("after a webhook attempt: UpdatedAt %s, want %s", j.UpdatedAt, at(70))
	}
}

// TestApplyIgnoredEventChangesOnlyLastSeq holds Apply to its doc comment:
// an event that arrives for a job in a state it cannot change is "absorbed
// without effect other than advancing LastSeq".
func TestApplyIgnoredEventChangesOnlyLastSeq(t *testing.T) {
	tests := []struct {
		name string
		job  events.Job
		e    events.Event
		bug  string // non-empty: a known bug in events/job.go; the case is skipped
	}{
		{name: "task queued", job: processingJob(), e: ev(9, 50, taskQueued("Patient", 1, 2))},
		{name: "task finished after completion", job: completedJob(), e: ev(9, 50, taskFinished("Patient", 1, 2, 200))},
		{name: "second request", job: pendingJob(), e: ev(9, 50, requested("Encounter"))},
		{name: "chunk after completion", job: completedJob(), e: ev(9, 50, chunkO1())},
		{name: "chunk after cancel", job: cancelledJob(afterP1(), 4, 3), e: ev(9, 50, chunkO1())},
		{name: "completion after failure", job: failedJob(afterP1(), 4, 3), e: ev(9, 50, completed(files3()...))},
		{name: "expiry while processing", job: afterP1(), e: ev(9, 50, expired(1))},
		{
			name: "webhook queued again",
			job:  events.Apply(completedJob(), ev(7, 10, attempt{id: "d1", n: 0}.payload())),
			e:    ev(9, 50, attempt{id: "d1", n: 0}.payload()),
		},
		{
			name: "webhook queued after its first attempt",
			job:  events.Apply(completedJob(), ev(7, 10, attempt{id: "d1", n: 1, status: 503, err: "503", next: ptr(at(60))}.payload())),
			e:    ev(9, 50, attempt{id: "d1", n: 0}.payload()),
		},
		{
			name: "late webhook attempt",
			job:  events.Apply(completedJob(), ev(7, 10, attempt{id: "d1", n: 2, status: 200, delivered: true}.payload())),
			e:    ev(9, 50, attempt{id: "d1", n: 1, status: 503, err: "503", next: ptr(at(60))}.payload()),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.bug != "" {
				t.Skip("bug: " + tt.bug)
			}
			want := with(tt.job, func(j *events.Job) { j.LastSeq = tt.e.Seq })
			if diff := cmp.Diff(want, events.Apply(tt.job, tt.e)); diff != "" {
				t.Errorf("ignored event changed the job (-want +got):\n%s", diff)
			}
		})
	}
}

// A finished type counts in full towards the percent, even when its last
// records were filtered out and wrote no part.
func TestTaskFinishedCompletesItsShare(t *testing.T) {
	j := processingJob()
	j.Totals = map[string]int64{"Patient": 100, "Observation": 300}
	j.Scanned = map[string]int64{"Patient": 40}
	got := events.Apply(j, ev(9, 50, taskFinished("Patient", 1, 2, 200)))
	if got.Scanned["Patient"] != 100 {
		t.Errorf("scanned %d of Patient after its task finished, want all 100", got.Scanned["Patient"])
	}
	if p, ok := got.Percent(); !ok || p != 25 {
		t.Errorf("percent %v, want 25 (Patient done, Observation not started)", p)
	}
	if again := events.Apply(got, ev(10, 51, taskFinished("Patient", 1, 2, 200))); !again.UpdatedAt.Equal(got.UpdatedAt) {
		t.Error("a second finish of a finished type moved UpdatedAt")
	}
}
