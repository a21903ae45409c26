package events_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/jetexport/jetexport/events"
)

// foldCase is one sequence of events of the fixture job and the job they
// fold into.
type foldCase struct {
	name   string
	events []events.Event
	want   events.Job
}

// ev builds an event of the fixture job, stored at stream sequence seq, n
// seconds after t0.
func ev(seq uint64, n int, p events.Payload) events.Event {
	e := events.New(fmt.Sprintf("evt-%d", seq), at(n), testTenant, testJobID, p)
	e.Seq = seq
	return e
}

// fold applies evs in order to an empty job, checking at every step that
// Apply leaves the job it is given as it was.
func fold(tb testing.TB, evs ...events.Event) events.Job {
	tb.Helper()
	return foldOnto(tb, events.Job{}, evs...)
}

func foldOnto(tb testing.TB, j events.Job, evs ...events.Event) events.Job {
	tb.Helper()
	for i, e := range evs {
		before := mustJSON(tb, j)
		next := events.Apply(j, e)
		if after := mustJSON(tb, j); !bytes.Equal(before, after) {
			tb.Fatalf("Apply of event %d (%s, seq %d) changed its input job:\nbefore %s\nafter  %s",
				i, e.Type, e.Seq, before, after)
		}
		j = next
	}
	return j
}

// Payload builders for fold tests: small, plausible values.

func requested(types ...string) *events.ExportRequested {
	return &events.ExportRequested{ResourceTypes: types, Level: events.LevelSystem, Door: "rest",
		RequestURL: "http://127.0.0.1:8080/v1/bulk/export", Requester: "key_1"}
}

func started(attempt int, worker string) *events.ExportStarted {
	return &events.ExportStarted{WorkerID: worker, Attempt: attempt, TransactionTime: at(1),
		SnapshotSeq: 100, Totals: map[string]int64{"Patient": 2, "Observation": 5}}
}

func chunk(typ string, part int, resources, bytes, scanned int64) *events.ChunkWritten {
	return &events.ChunkWritten{ResourceType: typ, Part: part, Object: events.ObjectName(testTenant, testJobID, typ, part),
		Resources: resources, Bytes: bytes, SHA256: fmt.Sprintf("sha-%s-%d-%d", typ, part, bytes),
		Cursor: uint64(scanned) * 10, Scanned: scanned}
}

// file is the manifest entry of the part chunk(typ, part, count, bytes, _) wrote.
func file(typ string, part int, count, bytes int64) events.File {
	return events.File{ResourceType: typ, Part: part, Object: events.ObjectName(testTenant, testJobID, typ, part),
		Count: count, Bytes: bytes, SHA256: fmt.Sprintf("sha-%s-%d-%d", typ, part, bytes)}
}

// The three parts of the fixture export, as chunks and as manifest files.
var (
	chunkP1 = func() *events.ChunkWritten { return chunk("Patient", 1, 2, 200, 2) }
	chunkO1 = func() *events.ChunkWritten { return chunk("Observation", 1, 3, 300, 3) }
	chunkO2 = func() *events.ChunkWritten { return chunk("Observation", 2, 2, 150, 5) }
	files3  = func() []events.File {
		return []events.File{file("Patient", 1, 2, 200), file("Observation", 1, 3, 300), file("Observation", 2, 2, 150)}
	}
)

func taskQueued(typ string, index, of int) *events.ExportTaskQueued {
	return &events.ExportTaskQueued{ResourceType: typ, Index: index, Of: of}
}

func taskFinished(typ string, parts int, resources, bytes int64) *events.ExportTaskFinished {
	return &events.ExportTaskFinished{ResourceType: typ, Parts: parts, Resources: resources, Bytes: bytes, WorkerID: "exporter-2"}
}

func completed(files ...events.File) *events.ExportCompleted {
	c := &events.ExportCompleted{TransactionTime: at(1), Files: files}
	for _, f := range files {
		c.Resources += f.Count
		c.Bytes += f.Bytes
	}
	return c
}

func failed() *events.ExportFailed {
	return &events.ExportFailed{Code: "store_unavailable", Message: "the clinical store could not be read", Attempts: 3}
}

func cancelReq() *events.ExportCancelRequested { return &events.ExportCancelRequested{By: "key_1"} }

func cancelled(parts int) *events.ExportCancelled {
	return &events.ExportCancelled{By: "key_1", PartsRemoved: parts}
}

func expired(n int) *events.ExportExpired { return &events.ExportExpired{ObjectsRemoved: n} }

// Jobs the fixture events fold into, built up step by step.

// pendingJob is the fold of ev(1, 0, requested("Patient", "Observation")).
func pendingJob() events.Job {
	return events.Job{ID: testJobID, Tenant: testTenant, Status: events.StatusPending,
		Request: *requested("Patient", "Observation"), CreatedAt: at(0), LastSeq: 1, UpdatedAt: at(0)}
}

// processingJob is pendingJob after ev(2, 1, started(1, "exporter-1")).
func processingJob() events.Job {
	j := pendingJob()
	j.Status, j.StartedAt, j.TransactionTime = events.StatusProcessing, ptr(at(1)), ptr(at(1))
	j.Attempt, j.WorkerID, j.SnapshotSeq = 1, "exporter-1", 100
	j.Totals = map[string]int64{"Patient": 2, "Observation": 5}
	j.LastSeq, j.UpdatedAt = 2, at(1)
	return j
}

// lifeEvents are the events of a job that runs to completion: requested,
// started, three chunks, completed (seqs 1-6, seconds 0-5).
func lifeEvents() []events.Event {
	return []events.Event{
		ev(1, 0, requested("Patient", "Observation")),
		ev(2, 1, started(1, "exporter-1")),
		ev(3, 2, chunkP1()),
		ev(4, 3, chunkO1()),
		ev(5, 4, chunkO2()),
		ev(6, 5, completed(files3()...)),
	}
}

// completedJob is the fold of lifeEvents.
func completedJob() events.Job {
	j := processingJob()
	j.Status, j.CompletedAt, j.EndedAt = events.StatusCompleted, ptr(at(5)), ptr(at(5))
	j.Scanned = map[string]int64{"Patient": 2, "Observation": 5}
	j.Files, j.Resources, j.Bytes = files3(), 7, 650
	j.LastSeq, j.UpdatedAt = 6, at(5)
	return j
}

// with returns j changed by f, for writing a want as a difference.
func with(j events.Job, f func(*events.Job)) events.Job {
	f(&j)
	return j
}

// concat joins event lists.
func concat(lists ...[]events.Event) []events.Event {
	var out []events.Event
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// otherJob returns e re-addressed to another job of the same tenant.
func otherJob(e events.Event) events.Event {
	e.JobID = "job_01JPB7XZ5K3M9Q2R4T6V8W0Y1B"
	return e
}

// otherTenant returns e re-addressed to the same job id in the live tenant.
func otherTenant(e events.Event) events.Event {
	e.Tenant = "acme_live"
	return e
}
