package events_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/jetexport/jetexport/events"
)

// ignoreUpdatedAt leaves UpdatedAt to TestApplyUpdatedAt, so the fold
// tables say what each event does to the job's state.
var ignoreUpdatedAt = cmpopts.IgnoreFields(events.Job{}, "UpdatedAt")

// afterP1 is processingJob after ev(3, 2, chunkP1()).
func afterP1() events.Job {
	return with(processingJob(), func(j *events.Job) {
		j.Files, j.Resources, j.Bytes = []events.File{file("Patient", 1, 2, 200)}, 2, 200
		j.Scanned = map[string]int64{"Patient": 2}
		j.LastSeq, j.UpdatedAt = 3, at(2)
	})
}

// afterO1 is afterP1 after ev(4, 3, chunkO1()).
func afterO1() events.Job {
	return with(afterP1(), func(j *events.Job) {
		j.Files = append(j.Files, file("Observation", 1, 3, 300))
		j.Resources, j.Bytes = 5, 500
		j.Scanned["Observation"] = 3
		j.LastSeq, j.UpdatedAt = 4, at(3)
	})
}

func failedJob(base events.Job, seq uint64, n int) events.Job {
	return with(base, func(j *events.Job) {
		j.Status, j.EndedAt, j.Error = events.StatusFailed, ptr(at(n)), failed()
		j.LastSeq = seq
	})
}

func cancelledJob(base events.Job, seq uint64, n int) events.Job {
	return with(base, func(j *events.Job) {
		j.Status, j.EndedAt, j.CancelledBy = events.StatusCancelled, ptr(at(n)), "key_1"
		j.LastSeq = seq
	})
}

func lifecycleCases() []foldCase {
	life := lifeEvents()
	req := ev(1, 0, requested("Patient", "Observation"))
	return []foldCase{
		{name: "requested creates a pending job", events: life[:1], want: pendingJob()},
		{name: "started makes it processing", events: life[:2], want: processingJob()},
		{name: "chunks add files and progress", events: life[:4], want: afterO1()},
		{name: "requested, started, chunks, completed", events: life, want: completedJob()},
		{
			name: "tasks queued leave the job processing",
			events: []events.Event{life[0], life[1], ev(3, 2, taskQueued("Patient", 1, 2)),
				ev(4, 2, taskQueued("Observation", 2, 2))},
			want: with(processingJob(), func(j *events.Job) { j.LastSeq = 4 }),
		},
		{
			// As the exporter runs a job: planned into one task per type,
			// whose parts and ends interleave.
			name: "requested, started, tasks, chunks, tasks finished, completed",
			events: []events.Event{life[0], life[1],
				ev(3, 2, taskQueued("Patient", 1, 2)), ev(4, 2, taskQueued("Observation", 2, 2)),
				ev(5, 3, chunkP1()), ev(6, 3, chunkO1()), ev(7, 4, taskFinished("Patient", 1, 2, 200)),
				ev(8, 5, chunkO2()), ev(9, 6, taskFinished("Observation", 2, 5, 450)),
				ev(10, 7, completed(files3()...))},
			want: with(completedJob(), func(j *events.Job) {
				j.CompletedAt, j.EndedAt, j.LastSeq = ptr(at(7)), ptr(at(7)), 10
			}),
		},
		{
			name:   "events without a stream sequence fold but leave LastSeq",
			events: []events.Event{ev(0, 0, requested("Patient", "Observation")), ev(0, 1, started(1, "exporter-1"))},
			want:   with(processingJob(), func(j *events.Job) { j.LastSeq = 0 }),
		},
		{
			name:   "second request for the same id is ignored",
			events: []events.Event{req, ev(2, 1, requested("Encounter"))},
			want:   with(pendingJob(), func(j *events.Job) { j.LastSeq = 2 }),
		},
		{
			name:   "events of an unknown job are ignored",
			events: []events.Event{ev(1, 1, started(1, "w")), ev(2, 2, chunkP1()), ev(3, 3, completed(files3()...)), ev(4, 4, cancelReq())},
			want:   events.Job{},
		},
		{
			name:   "events of another job are ignored",
			events: []events.Event{req, otherJob(ev(2, 1, started(1, "exporter-1"))), otherJob(ev(3, 2, failed()))},
			want:   pendingJob(),
		},
		{
			name:   "events of the same job id in another tenant are ignored",
			events: []events.Event{req, otherTenant(ev(2, 1, started(1, "exporter-1")))},
			want:   pendingJob(),
		},
	}
}

func duplicateCases() []foldCase {
	life := lifeEvents()
	return []foldCase{
		{
			name:   "duplicate events with the same seq change nothing",
			events: []events.Event{life[0], life[0], life[1], life[1], life[2], life[2]},
			want:   afterP1(),
		},
		{
			name:   "an event with an older seq changes nothing",
			events: []events.Event{life[0], life[1], life[3], life[2]},
			want: with(processingJob(), func(j *events.Job) {
				j.Files, j.Resources, j.Bytes = []events.File{file("Observation", 1, 3, 300)}, 3, 300
				j.Scanned = map[string]int64{"Observation": 3}
				j.LastSeq = 4
			}),
		},
		{
			name:   "chunk re-published with a new seq replaces its part",
			events: []events.Event{life[0], life[1], life[2], ev(4, 3, chunkP1())},
			want:   with(afterP1(), func(j *events.Job) { j.LastSeq = 4 }),
		},
		{
			name:   "part written again replaces the earlier record of it, sums follow",
			events: []events.Event{life[0], life[1], life[2], life[3], ev(5, 4, chunk("Patient", 1, 3, 260, 3))},
			want: with(afterO1(), func(j *events.Job) {
				j.Files[0] = file("Patient", 1, 3, 260)
				j.Resources, j.Bytes, j.Scanned["Patient"] = 6, 560, 3
				j.LastSeq = 5
			}),
		},
		{
			name:   "completed twice keeps the first",
			events: concat(life, []events.Event{ev(7, 9, completed(file("Patient", 1, 2, 200)))}),
			want:   with(completedJob(), func(j *events.Job) { j.LastSeq = 7 }),
		},
	}
}

func redeliveryCases() []foldCase {
	life := lifeEvents()
	restart := ev(5, 10, started(2, "exporter-2"))
	redelivered := with(afterO1(), func(j *events.Job) {
		j.Attempt, j.WorkerID, j.LastSeq = 2, "exporter-2", 5
	})
	return []foldCase{
		{
			name:   "second start after chunks keeps files, status and first start time",
			events: []events.Event{life[0], life[1], life[2], life[3], restart},
			want:   redelivered,
		},
		{
			name: "redelivered job completes",
			events: []events.Event{life[0], life[1], life[2], life[3], restart,
				ev(6, 11, chunkO2()), ev(7, 12, completed(files3()...))},
			want: with(completedJob(), func(j *events.Job) {
				j.Attempt, j.WorkerID, j.CompletedAt, j.EndedAt, j.LastSeq = 2, "exporter-2", ptr(at(12)), ptr(at(12)), 7
			}),
		},
		{
			name: "start without totals keeps the earlier totals",
			events: []events.Event{life[0], life[1],
				ev(3, 4, &events.ExportStarted{WorkerID: "exporter-2", Attempt: 2, TransactionTime: at(1), SnapshotSeq: 100})},
			want: with(processingJob(), func(j *events.Job) { j.Attempt, j.WorkerID, j.LastSeq = 2, "exporter-2", 3 }),
		},
		{
			name:   "start after completion is ignored",
			events: concat(life, []events.Event{ev(7, 9, started(2, "exporter-2"))}),
			want:   with(completedJob(), func(j *events.Job) { j.LastSeq = 7 }),
		},
	}
}

func failureCases() []foldCase {
	life := lifeEvents()
	req := life[0]
	return []foldCase{
		{name: "failed while processing keeps its files", events: concat(life[:3], []events.Event{ev(4, 3, failed())}), want: failedJob(afterP1(), 4, 3)},
		{name: "failed while pending", events: []events.Event{req, ev(2, 1, failed())}, want: failedJob(pendingJob(), 2, 1)},
		{
			name:   "events after failure are ignored",
			events: []events.Event{req, ev(2, 1, failed()), ev(3, 2, started(1, "w")), ev(4, 3, chunkP1()), ev(5, 4, completed(files3()...))},
			want:   failedJob(pendingJob(), 5, 1),
		},
		{
			name:   "a second failure is ignored",
			events: []events.Event{req, ev(2, 1, failed()), ev(3, 2, &events.ExportFailed{Code: "other", Message: "other", Attempts: 9})},
			want:   failedJob(pendingJob(), 3, 1),
		},
	}
}

func cancelCases() []foldCase {
	life := lifeEvents()
	req := life[0]
	cancelledWhileProcessing := cancelledJob(afterP1(), 4, 3)
	return []foldCase{
		{name: "cancel requested while processing", events: concat(life[:3], []events.Event{ev(4, 3, cancelReq())}), want: cancelledWhileProcessing},
		{
			// Resources and bytes keep what was written before the cancel; the files are gone.
			name:   "cancel requested then cancelled clears the files",
			events: concat(life[:3], []events.Event{ev(4, 3, cancelReq()), ev(5, 4, cancelled(1))}),
			want:   with(cancelledWhileProcessing, func(j *events.Job) { j.Files, j.LastSeq = nil, 5 }),
		},
		{
			name:   "chunk and completion after cancel are ignored",
			events: concat(life[:3], []events.Event{ev(4, 3, cancelReq()), ev(5, 4, chunkO1()), ev(6, 5, completed(files3()...))}),
			want:   with(cancelledWhileProcessing, func(j *events.Job) { j.LastSeq = 6 }),
		},
		{
			name:   "start after cancel is ignored",
			events: []events.Event{req, ev(2, 1, cancelReq()), ev(3, 2, started(1, "w"))},
			want:   cancelledJob(pendingJob(), 3, 1),
		},
		{
			name:   "cancel of a pending job",
			events: []events.Event{req, ev(2, 1, cancelReq()), ev(3, 2, cancelled(0))},
			want:   cancelledJob(pendingJob(), 3, 1),
		},
		{
			name:   "cancel of a completed job discards its files",
			events: concat(life, []events.Event{ev(7, 6, cancelReq()), ev(8, 7, cancelled(3))}),
			want:   with(cancelledJob(completedJob(), 8, 6), func(j *events.Job) { j.Files = nil }),
		},
		{
			name:   "cancel of a failed job is ignored",
			events: []events.Event{req, ev(2, 1, failed()), ev(3, 2, cancelReq())},
			want:   failedJob(pendingJob(), 3, 1),
		},
		{
			name:   "cancelled after failure is ignored",
			events: concat(life[:3], []events.Event{ev(4, 3, failed()), ev(5, 4, cancelReq()), ev(6, 5, cancelled(1))}),
			// An exporter that saw the cancel request race its own failure emits it.
			want: failedJob(afterP1(), 6, 3),
		},
	}
}

func expiryCases() []foldCase {
	life := lifeEvents()
	req := life[0]
	return []foldCase{
		{
			name:   "expired after completion",
			events: concat(life, []events.Event{ev(7, 100, expired(3))}),
			want:   with(completedJob(), func(j *events.Job) { j.Status, j.LastSeq = events.StatusExpired, 7 }),
		},
		{
			name:   "expired after failure",
			events: []events.Event{req, ev(2, 1, failed()), ev(3, 100, expired(0))},
			want:   with(failedJob(pendingJob(), 3, 1), func(j *events.Job) { j.Status = events.StatusExpired }),
		},
		{
			name:   "expired while processing is ignored",
			events: concat(life[:3], []events.Event{ev(4, 100, expired(1))}),
			want:   with(afterP1(), func(j *events.Job) { j.LastSeq = 4 }),
		},
		{
			name:   "expired after cancel is ignored",
			events: []events.Event{req, ev(2, 1, cancelReq()), ev(3, 100, expired(0))},
			want:   cancelledJob(pendingJob(), 3, 1),
		},
		{
			name:   "cancel of an expired job is ignored",
			events: concat(life, []events.Event{ev(7, 100, expired(3)), ev(8, 101, cancelReq()), ev(9, 102, cancelled(0))}),
			want:   with(completedJob(), func(j *events.Job) { j.Status, j.LastSeq = events.StatusExpired, 9 }),
		},
	}
}

// foldCases is every fold table; the property tests run over all of them.
func foldCases() []foldCase {
	return concat2(lifecycleCases(), duplicateCases(), redeliveryCases(), failureCases(),
		cancelCases(), expiryCases(), webhookCases())
}

func concat2(lists ...[]foldCase) []foldCase {
	var out []foldCase
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func TestApply(t *testing.T) {
	for _, tt := range foldCases() {
		t.Run(tt.name, func(t *testing.T) {
			got := fold(t, tt.events...)
			if diff := cmp.Diff(tt.want, got, ignoreUpdatedAt); diff != "" {
				t.Errorf("fold (-want +got):\n%s", diff)
			}
		})
	}
}
