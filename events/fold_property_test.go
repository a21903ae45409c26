package events_test

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/events"
)

// twice returns evs with each event repeated once in place: what a
// projector sees when every message is redelivered right after its first
// delivery.
func twice(evs []events.Event) []events.Event {
	out := make([]events.Event, 0, 2*len(evs))
	for _, e := range evs {
		out = append(out, e, e)
	}
	return out
}

// withoutSeq returns evs with their stream sequences cleared, so that only
// the payload-level idempotence of Apply is left to absorb repeats.
func withoutSeq(evs []events.Event) []events.Event {
	out := make([]events.Event, len(evs))
	for i, e := range evs {
		e.Seq = 0
		out[i] = e
	}
	return out
}

// checkIdempotent checks the properties every event history must have:
// folding each event twice equals folding it once, with and without stream
// sequences, and replaying the whole history onto its own result (a
// projector restarted from the start of the stream) changes nothing.
func checkIdempotent(t *testing.T, evs []events.Event) {
	t.Helper()
	once := fold(t, evs...)
	if diff := cmp.Diff(once, fold(t, twice(evs)...)); diff != "" {
		t.Errorf("each event folded twice differs from once (-once +twice):\n%s", diff)
	}
	noSeq := withoutSeq(evs)
	if diff := cmp.Diff(fold(t, noSeq...), fold(t, twice(noSeq)...)); diff != "" {
		t.Errorf("without seqs, each event folded twice differs from once (-once +twice):\n%s", diff)
	}
	if diff := cmp.Diff(once, foldOnto(t, once, evs...)); diff != "" {
		t.Errorf("replaying the history onto its fold changed it (-fold +replayed):\n%s", diff)
	}
}

func TestApplyTwiceEqualsOnce(t *testing.T) {
	for _, tt := range foldCases() {
		t.Run(tt.name, func(t *testing.T) { checkIdempotent(t, tt.events) })
	}
}

// eventPool holds every kind of event of the fixture job, in the variants
// the fold treats differently, for generating random histories.
func eventPool() []events.Payload {
	return []events.Payload{
		requested("Patient", "Observation"),
		requested("Encounter"),
		started(1, "exporter-1"),
		started(2, "exporter-2"),
		&events.ExportStarted{WorkerID: "exporter-3", Attempt: 3, TransactionTime: at(1), SnapshotSeq: 100},
		taskQueued("Patient", 1, 2),
		taskQueued("Observation", 2, 2),
		chunkP1(),
		chunkO1(),
		taskFinished("Patient", 1, 2, 200),
		taskFinished("Observation", 2, 5, 450),
		chunkO2(),
		chunk("Patient", 1, 3, 260, 3),
		completed(files3()...),
		completed(file("Patient", 1, 2, 200)),
		failed(),
		cancelReq(),
		cancelled(2),
		expired(3),
		attempt{id: "d1", n: 0}.payload(),
		attempt{id: "d1", n: 1, status: 503, err: "503", next: ptr(at(70))}.payload(),
		attempt{id: "d1", n: 2, status: 204, delivered: true}.payload(),
		attempt{id: "d1", n: 2, status: 500, err: "500", final: true}.payload(),
		attempt{id: "d2", n: 1, err: "refused", next: ptr(at(40))}.payload(),
	}
}

// randomHistory returns up to 14 events drawn from the pool with rising
// sequences and times; most start with the request, as real ones do, and a
// few are addressed to another job or tenant, as a misrouted message would be.
func randomHistory(r *rand.Rand) []events.Event {
	pool := eventPool()
	n := 1 + r.IntN(14)
	evs := make([]events.Event, 0, n)
	for i := range n {
		p := pool[r.IntN(len(pool))]
		if i == 0 && r.IntN(5) > 0 {
			p = pool[0]
		}
		e := ev(uint64(i+1), i, p)
		if e.Kind() != events.KindRequested {
			switch r.IntN(12) {
			case 0:
				e = otherJob(e)
			case 1:
				e = otherTenant(e)
			}
		}
		evs = append(evs, e)
	}
	return evs
}

// TestApplyRandomHistories folds random event histories and checks the
// idempotence properties and the fold's invariants on each.
func TestApplyRandomHistories(t *testing.T) {
	r := rand.New(rand.NewPCG(20250314, 2))
	for i := range 400 {
		evs := randomHistory(r)
		ok := t.Run("", func(t *testing.T) {
			checkIdempotent(t, evs)
			checkInvariants(t, evs)
		})
		if !ok {
			var kinds []events.Kind
			for _, e := range evs {
				kinds = append(kinds, e.Kind())
			}
			t.Fatalf("history %d failed: %v", i, kinds)
		}
	}
}

func checkInvariants(t *testing.T, evs []events.Event) {
	t.Helper()
	var j events.Job
	for _, e := range evs {
		prev := j
		j = events.Apply(j, e)
		switch {
		case prev.ID == "" && e.Kind() != events.KindRequested:
			if diff := cmp.Diff(events.Job{}, j); diff != "" {
				t.Fatalf("%s before any request changed the empty job:\n%s", e.Type, diff)
			}
			continue
		case e.JobID != testJobID || e.Tenant != testTenant:
			if diff := cmp.Diff(prev, j); diff != "" {
				t.Fatalf("%s of another job changed this one:\n%s", e.Type, diff)
			}
			continue
		case prev.Status.Terminal() && !j.Status.Terminal():
			t.Fatalf("%s took a %s job back to %s", e.Type, prev.Status, j.Status)
		case prev.Status == events.StatusExpired && j.Status != events.StatusExpired:
			t.Fatalf("%s revived an expired job as %s", e.Type, j.Status)
		}
		if j.ID != testJobID || j.Tenant != testTenant || j.LastSeq != e.Seq {
			t.Fatalf("after %s: id %q tenant %q lastSeq %d", e.Type, j.ID, j.Tenant, j.LastSeq)
		}
		if j.Status != events.StatusCancelled {
			var res, bytes int64
			for _, f := range j.Files {
				res += f.Count
				bytes += f.Bytes
			}
			if res != j.Resources || bytes != j.Bytes {
				t.Fatalf("after %s: resources %d bytes %d, files sum to %d and %d", e.Type, j.Resources, j.Bytes, res, bytes)
			}
		}
		if pct, _ := j.Percent(); pct < 0 || pct > 100 {
			t.Fatalf("after %s: percent %v", e.Type, pct)
		}
	}
}
