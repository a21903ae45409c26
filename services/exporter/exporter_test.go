package exporter_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
	"github.com/jetexport/jetexport/services/exporter"
	"github.com/jetexport/jetexport/services/projector"
)

var tenant = events.TenantOf("acme", events.ModeTest)

// putRecords stores n records of typ with ids typ-0..n-1 and returns their JSON by id.
func putRecords(tb testing.TB, a *broker.Assets, t events.Tenant, typ string, from, n int) map[string]string {
	tb.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for i := from; i < from+n; i++ {
		id := fmt.Sprintf("%s-%d", typ, i)
		v := fmt.Sprintf(`{"resourceType":%q,"id":%q,"meta":{"versionId":"1"},"pad":"%0200d"}`, typ, id, i)
		if _, err := a.FHIR.Put(ctx, events.RecordKey(t, typ, id), []byte(v)); err != nil {
			tb.Fatal(err)
		}
		out[id] = v
	}
	return out
}

// system runs a projector and n exporters with cfg until the test ends.
func system(tb testing.TB, a *broker.Assets, cfg exporter.Config) context.CancelFunc {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	p, err := projector.New(projector.Config{}, projector.Deps{JS: a.JS, KV: a.Jobs, Log: zerolog.Nop()})
	if err != nil {
		tb.Fatal(err)
	}
	wg.Go(func() { _ = p.Run(ctx) })
	x, err := exporter.New(cfg, exporter.Deps{Assets: a, Log: zerolog.New(zerolog.NewTestWriter(tb)).Level(zerolog.WarnLevel)})
	if err != nil {
		tb.Fatal(err)
	}
	wg.Go(func() { _ = x.Run(ctx) })
	tb.Cleanup(func() { cancel(); wg.Wait() })
	return cancel
}

func request(tb testing.TB, a *broker.Assets, req *events.ExportRequested) string {
	tb.Helper()
	id := "job_" + ulid.Make().String()
	ev := events.New(events.MsgID(id, events.KindRequested, ""), time.Now(), tenant, id, req)
	if _, err := broker.Publish(context.Background(), a.JS, ev, ev.ID); err != nil {
		tb.Fatal(err)
	}
	return id
}

func job(tb testing.TB, a *broker.Assets, id string) events.Job {
	tb.Helper()
	e, err := a.Jobs.Get(context.Background(), events.JobKey(tenant, id))
	if err != nil {
		return events.Job{}
	}
	var j events.Job
	if err := json.Unmarshal(e.Value(), &j); err != nil {
		tb.Fatal(err)
	}
	return j
}

func waitStatus(tb testing.TB, a *broker.Assets, id string, want events.Status) events.Job {
	tb.Helper()
	var j events.Job
	natstest.Eventually(tb, 30*time.Second, fmt.Sprintf("job %s never reached %s", id, want), func() bool {
		j = job(tb, a, id)
		return j.Status == want
	})
	return j
}

// lines downloads every file of a job and returns its lines by resource id,
// failing on a duplicate.
func lines(tb testing.TB, a *broker.Assets, files []events.File) map[string]string {
	tb.Helper()
	got := map[string]string{}
	for _, f := range files {
		r, err := a.Exports.Get(context.Background(), f.Object)
		if err != nil {
			tb.Fatalf("get %s: %v", f.Object, err)
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 4<<20)
		n := 0
		for sc.Scan() {
			var res struct{ ResourceType, ID string }
			if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
				tb.Fatalf("%s line %d: %v", f.Object, n, err)
			}
			if res.ResourceType != f.ResourceType {
				tb.Errorf("%s holds a %s", f.Object, res.ResourceType)
			}
			if _, dup := got[res.ID]; dup {
				tb.Errorf("%s appears twice", res.ID)
			}
			got[res.ID] = sc.Text()
			n++
		}
		r.Close()
		if int64(n) != f.Count {
			tb.Errorf("%s has %d lines, manifest says %d", f.Object, n, f.Count)
		}
	}
	return got
}

func TestExportEveryRecordOnce(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	want := putRecords(t, a, tenant, "Patient", 0, 120)
	for k, v := range putRecords(t, a, tenant, "Observation", 0, 2500) {
		want[k] = v
	}
	putRecords(t, a, events.TenantOf("other", events.ModeTest), "Patient", 0, 50)
	putRecords(t, a, events.TenantOf("acme", events.ModeLive), "Patient", 0, 50)
	putRecords(t, a, tenant, "Condition", 0, 10) // not requested
	if err := a.FHIR.Delete(context.Background(), events.RecordKey(tenant, "Patient", "Patient-7")); err != nil {
		t.Fatal(err)
	}
	delete(want, "Patient-7")
	system(t, a, exporter.Config{PartMaxResources: 1000, AckWait: 5 * time.Second})

	id := request(t, a, &events.ExportRequested{ResourceTypes: []string{"Patient", "Observation", "Encounter"}, Level: events.LevelSystem})
	j := waitStatus(t, a, id, events.StatusCompleted)

	var parts []string
	for _, f := range j.Files {
		parts = append(parts, fmt.Sprintf("%s.%d:%d", f.ResourceType, f.Part, f.Count))
	}
	if got, wantParts := fmt.Sprint(parts), "[Patient.1:119 Observation.1:1000 Observation.2:1000 Observation.3:500]"; got != wantParts {
		t.Errorf("files %s, want %s", got, wantParts)
	}
	got := lines(t, a, j.Files)
	if len(got) != len(want) {
		t.Errorf("exported %d resources, want %d", len(got), len(want))
	}
	for id, v := range want {
		if got[id] != v {
			t.Errorf("%s: got %q, want %q", id, got[id], v)
		}
	}
	if j.Resources != int64(len(want)) || j.TransactionTime == nil || j.StartedAt == nil {
		t.Errorf("job totals: %+v", j)
	}
	if p, ok := j.Percent(); !ok || p != 100 {
		t.Errorf("percent %v %v", p, ok)
	}
}

func TestExportSince(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	putRecords(t, a, tenant, "Patient", 0, 30)
	since := time.Now()
	want := putRecords(t, a, tenant, "Patient", 30, 20)
	for k, v := range putRecords(t, a, tenant, "Patient", 0, 5) { // updated after since
		want[k] = v
	}
	system(t, a, exporter.Config{})
	id := request(t, a, &events.ExportRequested{ResourceTypes: []string{"Patient"}, Since: &since})
	got := lines(t, a, waitStatus(t, a, id, events.StatusCompleted).Files)
	if len(got) != len(want) {
		t.Fatalf("exported %d, want %d (20 new and 5 updated after since)", len(got), len(want))
	}
	for id := range want {
		if _, ok := got[id]; !ok {
			t.Errorf("%s missing", id)
		}
	}
}

func TestResumeAfterInterruptedAttempt(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	want := putRecords(t, a, tenant, "Observation", 0, 3000)
	// The first worker stops as soon as its first part is recorded: a
	// crash between two parts. A second worker must resume at part 2.
	ctx := context.Background()
	first := make(chan struct{})
	var once sync.Once
	sub, err := a.JS.Conn().Subscribe(events.KindSubjects(events.KindChunk), func(*nats.Msg) { once.Do(func() { close(first) }) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	stop := system(t, a, exporter.Config{PartMaxResources: 500, AckWait: 2 * time.Second, WorkerID: "first"})
	id := request(t, a, &events.ExportRequested{ResourceTypes: []string{"Observation"}})
	<-first
	stop()
	system(t, a, exporter.Config{PartMaxResources: 500, AckWait: 2 * time.Second, WorkerID: "second"})
	j := waitStatus(t, a, id, events.StatusCompleted)
	got := lines(t, a, j.Files)
	if len(got) != len(want) {
		t.Fatalf("exported %d, want %d", len(got), len(want))
	}
	evs, err := broker.JobEvents(ctx, a.JS, tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	chunks, finishedBy := map[int]int{}, ""
	for _, ev := range evs {
		switch p := ev.Data.(type) {
		case *events.ChunkWritten:
			chunks[p.Part]++
		case *events.ExportTaskFinished:
			finishedBy = p.WorkerID
		}
	}
	if finishedBy != "second" {
		t.Errorf("task finished by %q: the second worker did not resume it", finishedBy)
	}
	for part, n := range chunks {
		if n != 1 {
			t.Errorf("part %d recorded %d times", part, n)
		}
	}
	if len(chunks) != 6 {
		t.Errorf("%d parts, want 6", len(chunks))
	}
}

// A task of several types, interrupted when some parts of each are
// recorded, is resumed by another worker type by type: no part is written
// twice, the parts of each type follow on, and every record is there once.
func TestResumeOnePassOfSeveralTypes(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	want := map[string]string{}
	for p := range 150 { // as patients are loaded: their records together
		maps.Copy(want, putRecords(t, a, tenant, "Patient", p, 1))
		maps.Copy(want, putRecords(t, a, tenant, "Encounter", 2*p, 2))
		maps.Copy(want, putRecords(t, a, tenant, "Observation", 7*p, 7))
	}
	// Every ChunkWritten published, stored or not: a part written again
	// would be published again (the log de-duplicates it, the wire does not).
	var mu sync.Mutex
	published := map[string]int{}
	recorded := make(chan struct{}, 1000)
	sub, err := a.JS.Conn().Subscribe(events.KindSubjects(events.KindChunk), func(m *nats.Msg) {
		ev, err := events.Decode(m.Data)
		if err != nil {
			t.Error(err)
			return
		}
		c := ev.Data.(*events.ChunkWritten)
		mu.Lock()
		published[fmt.Sprintf("%s.%d", c.ResourceType, c.Part)]++
		mu.Unlock()
		recorded <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	cfg := exporter.Config{PartMaxResources: 40, AckWait: 2 * time.Second, WorkerID: "first"}
	stop := system(t, a, cfg)
	id := request(t, a, &events.ExportRequested{ResourceTypes: []string{"Patient", "Encounter", "Observation"}})
	for range 8 {
		<-recorded
	}
	stop()
	cfg.WorkerID = "second"
	system(t, a, cfg)
	j := waitStatus(t, a, id, events.StatusCompleted)
	got := lines(t, a, j.Files)
	if len(got) != len(want) {
		t.Fatalf("exported %d, want %d", len(got), len(want))
	}
	evs, err := broker.JobEvents(context.Background(), a.JS, tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	var started *events.ExportStarted
	tasks, finishedBy := 0, map[string]string{}
	for _, ev := range evs {
		switch p := ev.Data.(type) {
		case *events.ExportStarted:
			started = p
		case *events.ExportTaskQueued:
			tasks++
		case *events.ExportTaskFinished:
			finishedBy[p.ResourceType] = p.WorkerID
		}
	}
	if want := [][]string{{"Patient", "Encounter", "Observation"}}; started == nil || !cmp.Equal(started.Tasks, want) || tasks != 1 {
		t.Errorf("plan %v in %d tasks queued, want one task of every type", started.Tasks, tasks)
	}
	for _, typ := range []string{"Patient", "Encounter", "Observation"} {
		if finishedBy[typ] != "second" {
			t.Errorf("%s finished by %q: the second worker did not resume it", typ, finishedBy[typ])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for part, n := range published {
		if n != 1 {
			t.Errorf("part %s published %d times", part, n)
		}
	}
	perType := map[string]int{}
	for _, f := range j.Files {
		perType[f.ResourceType]++
		if f.Part != perType[f.ResourceType] {
			t.Errorf("%s part %d out of order or missing one", f.ResourceType, f.Part)
		}
	}
	if len(published) != len(j.Files) {
		t.Errorf("%d parts published, %d in the manifest", len(published), len(j.Files))
	}
}

func TestCancelRemovesParts(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	putRecords(t, a, tenant, "Observation", 0, 400)
	system(t, a, exporter.Config{PartMaxResources: 100})
	id := request(t, a, &events.ExportRequested{ResourceTypes: []string{"Observation"}})
	waitStatus(t, a, id, events.StatusCompleted)
	cancel := events.New(events.MsgID(id, events.KindCancel, ""), time.Now(), tenant, id, &events.ExportCancelRequested{By: "test"})
	if _, err := broker.Publish(context.Background(), a.JS, cancel, cancel.ID); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 10*time.Second, "cancelled event never recorded", func() bool {
		_, err := broker.LastEvent(context.Background(), a.Stream, tenant, id, events.KindCancelled)
		return err == nil
	})
	// The job reads cancelled from the request on; its files go once the
	// projector has folded ExportCancelled too.
	natstest.Eventually(t, 10*time.Second, "cancelled job still lists files", func() bool {
		j := job(t, a, id)
		return j.Status == events.StatusCancelled && len(j.Files) == 0
	})
	noObjectsLeft(t, a, "cancel")
}

func TestRebuildEqualsLiveProjection(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	putRecords(t, a, tenant, "Patient", 0, 300)
	system(t, a, exporter.Config{PartMaxResources: 100})
	var ids []string
	for range 3 {
		ids = append(ids, request(t, a, &events.ExportRequested{ResourceTypes: []string{"Patient"}}))
	}
	for _, id := range ids {
		waitStatus(t, a, id, events.StatusCompleted)
	}
	ctx := context.Background()
	fresh, err := a.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "jobs_rebuild"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := projector.Rebuild(ctx, a.JS, fresh); err != nil {
		t.Fatal(err)
	}
	live, rebuilt := dump(t, a.Jobs), dump(t, fresh)
	if len(live) != 3 || fmt.Sprint(live) != fmt.Sprint(rebuilt) {
		t.Errorf("rebuilt projection differs:\nlive    %v\nrebuilt %v", live, rebuilt)
	}
}

func dump(tb testing.TB, kv jetstream.KeyValue) []string {
	tb.Helper()
	keys, err := kv.ListKeys(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for k := range keys.Keys() {
		e, err := kv.Get(context.Background(), k)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, k+"="+string(e.Value()))
	}
	sort.Strings(out)
	return out
}

func TestStoreRefusingWritesFailsTheJob(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	putRecords(t, a, tenant, "Observation", 0, 200)
	ctx := context.Background()
	// An object store that refuses every part: its stream allows 1 KiB.
	s, err := a.JS.Stream(ctx, "OBJ_"+events.ObjectStoreExports)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.MaxBytes = 1024
	if _, err := a.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	system(t, a, exporter.Config{MaxAttempts: 3, RetryDelay: 50 * time.Millisecond})
	id := request(t, a, &events.ExportRequested{ResourceTypes: []string{"Observation"}})
	j := waitStatus(t, a, id, events.StatusFailed)
	if j.Error == nil || j.Error.Attempts != 3 || j.Error.Code != "storage_full" {
		t.Fatalf("failed job error %+v, want storage_full after 3 attempts", j.Error)
	}
	t.Logf("failure reported to the user: %s: %s", j.Error.Code, j.Error.Message)
}

func TestRetentionExpiresJobs(t *testing.T) {
	a := natstest.Assets(t, broker.Config{Retention: 2 * time.Second})
	putRecords(t, a, tenant, "Patient", 0, 20)
	system(t, a, exporter.Config{RetentionCheck: 100 * time.Millisecond})
	id := request(t, a, &events.ExportRequested{ResourceTypes: []string{"Patient"}})
	waitStatus(t, a, id, events.StatusCompleted)
	j := waitStatus(t, a, id, events.StatusExpired)
	if len(j.Files) == 0 {
		t.Error("an expired job should still list what it had")
	}
	ev, err := broker.LastEvent(context.Background(), a.Stream, tenant, id, events.KindExpired)
	if err != nil {
		t.Fatalf("no expired event in the log: %v", err)
	}
	t.Logf("expired event: %+v", ev.Data)
	noObjectsLeft(t, a, "expiry")
}

// Deleting the jobs bucket and restarting the projector ends with the same
// job documents: it notices the loss and replays the log.
func TestProjectionComesBackAfterTheBucketIsDeleted(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	putRecords(t, a, tenant, "Patient", 0, 100)
	stop := system(t, a, exporter.Config{PartMaxResources: 30})
	var ids []string
	for range 3 {
		ids = append(ids, request(t, a, &events.ExportRequested{ResourceTypes: []string{"Patient"}}))
	}
	for _, id := range ids {
		waitStatus(t, a, id, events.StatusCompleted)
	}
	before := dump(t, a.Jobs)
	stop()
	ctx := context.Background()
	if err := a.JS.DeleteKeyValue(ctx, events.BucketJobs); err != nil {
		t.Fatal(err)
	}
	b, err := broker.Setup(ctx, a.JS, broker.Config{}) // as a restarted gateway does
	if err != nil {
		t.Fatal(err)
	}
	p, err := projector.New(projector.Config{}, projector.Deps{JS: b.JS, KV: b.Jobs, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = p.Run(pctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	natstest.Eventually(t, 30*time.Second, "the projection never came back", func() bool {
		return fmt.Sprint(dump(t, b.Jobs)) == fmt.Sprint(before)
	})
}

// noObjectsLeft fails the test if the exports store still holds an object.
func noObjectsLeft(tb testing.TB, a *broker.Assets, after string) {
	tb.Helper()
	objs, err := a.Exports.List(context.Background())
	if err != nil && err != jetstream.ErrNoObjectsFound {
		tb.Fatal(err)
	}
	if len(objs) != 0 {
		tb.Errorf("%d objects left after %s", len(objs), after)
	}
}
