package crashtest

import (
	"testing"
	"time"

	"github.com/jetexport/jetexport/events"
)

// TestStuck makes an exporter alive but idle in the middle of a task (its
// pause hook blocks on record 100) and checks the task does not stay with
// it: another process takes it over, or, on the last attempt, the job fails
// with code "stuck" and says why.
func TestStuck(t *testing.T) {
	t.Run("retried by another exporter", func(t *testing.T) {
		t.Parallel()
		s := newSystem(t, options{})
		s.load(20, 4)
		want := s.stored("Observation")
		a := s.exporter("exporter-a", "record:100", "--stuck-after", "1s")
		id := s.kickOff("Observation")
		a.waitLine(t, time.Minute, "paused at record:100")
		s.exporter("exporter-b", "", "--stuck-after", "1s")
		evs := s.verifyExport(id, want)
		for _, ev := range evs {
			if f, ok := ev.Data.(*events.ExportTaskFinished); ok && f.WorkerID != "exporter-b" {
				t.Errorf("%s finished by %s, want exporter-b", f.ResourceType, f.WorkerID)
			}
		}
		if a.exited() {
			t.Errorf("exporter-a exited; the test wants it alive and stuck")
		}
	})

	t.Run("fails on the last attempt", func(t *testing.T) {
		t.Parallel()
		s := newSystem(t, options{})
		s.load(60, 4)
		// The only exporter holds record 1,500 for 4 s, well past
		// --stuck-after, and has one attempt. Parts of 2,000: the part's
		// put has stored two 512 KiB chunks when the watchdog ends it.
		a := s.exporter("exporter-a", "record:1500:4s", "--stuck-after", "1s", "--max-attempts", "1", "--part-max-resources", "2000")
		id := s.kickOff("Observation")
		a.waitLine(t, time.Minute, "paused at record:1500")
		j := s.waitStatus(id, time.Minute, "completed", "failed")
		if j.Status != "failed" || j.Error == nil || j.Error.Code != "stuck" || j.Error.Message == "" {
			t.Fatalf("job %s, error %+v: want failed with code stuck and a message", j.Status, j.Error)
		}
		t.Logf("failed: %s", j.Error.Message)
		if n := s.orphanChunks(); n > 0 {
			t.Errorf("the exports store holds %d chunks of no object (the put the watchdog cut short)", n)
		}
	})
}
