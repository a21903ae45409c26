package crashtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/natstest"
)

// write is one change a concurrent writer made through the gateway.
type write struct {
	ref     string
	version int // 0 for a delete
	sent    time.Time
	acked   time.Time
}

// writer changes Observations through the gateway's FHIR API until stop is
// closed: it updates the existing ones in a shuffled order (each once),
// creates new ones and deletes some.
type writer struct {
	s       *system
	ids     []string
	client  *http.Client
	mu      sync.Mutex
	writes  []write
	failure error
}

func (w *writer) run(stop <-chan struct{}, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed))
	r.Shuffle(len(w.ids), func(i, j int) { w.ids[i], w.ids[j] = w.ids[j], w.ids[i] })
	for i, id := range w.ids {
		select {
		case <-stop:
			return
		default:
		}
		var err error
		switch {
		case i%40 == 39:
			err = w.do("DELETE", id, nil)
		case i%4 == 3:
			nid := fmt.Sprintf("new-%d-%d", seed, i)
			err = w.do("PUT", nid, []byte(fmt.Sprintf(
				`{"resourceType":"Observation","id":%q,"status":"final","code":{"text":"created during the export"}}`, nid)))
		default:
			err = w.do("PUT", id, []byte(fmt.Sprintf(
				`{"resourceType":"Observation","id":%q,"status":"amended","code":{"text":"updated during the export"}}`, id)))
		}
		if err != nil {
			w.mu.Lock()
			w.failure = err
			w.mu.Unlock()
			return
		}
	}
}

func (w *writer) do(method, id string, body []byte) error {
	req, err := http.NewRequest(method, w.s.httpURL+"/fhir/Observation/"+id, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("x-api-key", w.s.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	sent := time.Now()
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, id, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	acked := time.Now()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, id, resp.StatusCode, raw)
	}
	wr := write{ref: "Observation/" + id, sent: sent, acked: acked}
	if method == "PUT" {
		var res struct{ Meta struct{ VersionID string } }
		if err := json.Unmarshal(raw, &res); err != nil {
			return fmt.Errorf("PUT %s answered %s: %w", id, raw, err)
		}
		if wr.version, err = strconv.Atoi(res.Meta.VersionID); err != nil {
			return fmt.Errorf("PUT %s: versionId %q", id, res.Meta.VersionID)
		}
	}
	w.mu.Lock()
	w.writes = append(w.writes, wr)
	w.mu.Unlock()
	return nil
}

// TestSnapshotUnderWrites exports Observations while two writers update,
// create and delete them through the gateway. The export must hold every
// record exactly as it was at the job's snapshot: updated ones in their
// old version, new ones absent, deleted ones present.
func TestSnapshotUnderWrites(t *testing.T) {
	t.Parallel()
	s := newSystem(t, options{})
	s.load(60, 5)
	before := s.stored("Observation")
	var ids []string
	for ref := range before {
		ids = append(ids, ref[len("Observation/"):])
	}
	sort.Strings(ids)
	// Parts of 20: the export takes long enough for the writers to change
	// records it has not read yet.
	s.exporter("exporter-a", "", "--part-max-resources", "20")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	writers := []*writer{
		{s: s, ids: ids[:len(ids)/2], client: &http.Client{}},
		{s: s, ids: ids[len(ids)/2:], client: &http.Client{}},
	}
	for i, w := range writers {
		wg.Go(func() { w.run(stop, uint64(i+1)) })
	}
	// Let the writers get going first, so that changes straddle the snapshot.
	natstest.Eventually(t, 10*time.Second, "the writers made no change", func() bool { return len(writers[0].done()) >= 50 })
	id := s.kickOff("Observation")
	j := s.waitStatus(id, time.Minute, "completed", "failed")
	close(stop)
	wg.Wait()
	for _, w := range writers {
		if w.failure != nil {
			t.Fatalf("writer: %v", w.failure)
		}
	}
	if j.Status != "completed" {
		t.Fatalf("job %s %+v", j.Status, j.Error)
	}

	var started *events.ExportStarted
	var completedAt time.Time
	for _, ev := range s.jobEvents(id) {
		switch p := ev.Data.(type) {
		case *events.ExportStarted:
			started = p
		case *events.ExportCompleted:
			completedAt = ev.Time
		}
	}
	if started == nil {
		t.Fatal("no ExportStarted")
	}
	tt := started.TransactionTime
	want := s.asOf(started.SnapshotSeq, "Observation")
	lines := s.exportLines(j)
	checkLines(t, lines, want)

	exported := map[string]int{}
	for _, l := range lines {
		var r struct {
			ID   string
			Meta struct {
				VersionID   string
				LastUpdated time.Time
			}
		}
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatal(err)
		}
		if r.Meta.LastUpdated.After(tt) {
			t.Errorf("Observation/%s was updated at %s, after the transactionTime %s", r.ID, r.Meta.LastUpdated, tt)
		}
		exported["Observation/"+r.ID], _ = strconv.Atoi(r.Meta.VersionID)
	}
	var during, beforeTT int
	for _, w := range append(writers[0].done(), writers[1].done()...) {
		v, in := exported[w.ref]
		switch {
		case w.acked.Before(tt):
			beforeTT++
			if w.version == 0 && in {
				t.Errorf("%s, deleted before the transactionTime, is in the export", w.ref)
			}
			if w.version > 0 && v < w.version {
				t.Errorf("%s is in the export as version %d; version %d was stored before the transactionTime", w.ref, v, w.version)
			}
		case w.sent.After(tt):
			if w.acked.Before(completedAt) {
				during++
			}
			if w.version > 0 && v >= w.version {
				t.Errorf("%s is in the export as version %d, written after the transactionTime", w.ref, v)
			}
		}
	}
	t.Logf("%d records exported; %d changes before the transactionTime, %d while the export ran", len(lines), beforeTT, during)
	if during == 0 || beforeTT == 0 {
		t.Errorf("the writers did not straddle the export (%d changes before it, %d during it): the test proved nothing", beforeTT, during)
	}
}

// done returns the writes made so far.
func (w *writer) done() []write {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]write(nil), w.writes...)
}
