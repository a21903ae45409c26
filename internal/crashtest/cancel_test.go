package crashtest

import (
	"net/http"
	"testing"
	"time"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/natstest"
)

// TestCancel cancels a running export and a finished one.
func TestCancel(t *testing.T) {
	t.Parallel()
	s := newSystem(t, options{})
	s.load(60, 2)
	// Parts of 5 resources: 2,300 Observations make a few seconds of work.
	s.exporter("exporter-a", "", "--part-max-resources", "5")

	t.Run("running", func(t *testing.T) {
		s := s.with(t)
		id := s.kickOff("Observation", "Patient")
		natstest.Eventually(t, time.Minute, "no part written", func() bool { return s.job(id).Progress.Files >= 10 })

		status, data := s.do("DELETE", "/v1/bulk/jobs/"+id, nil)
		if status != http.StatusAccepted {
			t.Fatalf("DELETE: %d %s", status, data)
		}
		// At once: the GET right after the DELETE.
		if j := s.job(id); j.Status != "cancelled" {
			t.Errorf("GET right after DELETE: %s, want cancelled", j.Status)
		}
		cancelled := s.waitEvent(id, 30*time.Second, events.KindCancelled)

		var requested, lastChunk time.Time
		chunks := 0
		for _, ev := range s.jobEvents(id) {
			switch ev.Data.(type) {
			case *events.ExportCancelRequested:
				requested = ev.Time
			case *events.ChunkWritten:
				lastChunk = ev.Time
				chunks++
			}
		}
		stopped := lastChunk.Sub(requested)
		t.Logf("%d parts written; last part %s after the cancel, cancelled %s after it, %d parts removed",
			chunks, stopped.Round(time.Millisecond), cancelled.Time.Sub(requested).Round(time.Millisecond),
			cancelled.Data.(*events.ExportCancelled).PartsRemoved)
		if stopped > 2*time.Second {
			t.Errorf("the exporter wrote a part %s after the cancel, want it stopped within 2s", stopped)
		}
		if d := cancelled.Time.Sub(requested); d > 2*time.Second {
			t.Errorf("ExportCancelled %s after the cancel, want within 2s", d)
		}
		if n := len(s.objects(id)); n != 0 {
			t.Errorf("%d objects of the cancelled job left in the store", n)
		}
		if n := s.orphanChunks(); n > 0 {
			t.Errorf("the exports store holds %d chunks of no object (a put cut short by the cancel)", n)
		}
		if j := s.job(id); j.Status != "cancelled" || len(j.Files) != 0 {
			t.Errorf("after the cleanup: %s with %d files", j.Status, len(j.Files))
		}
	})

	t.Run("finished", func(t *testing.T) {
		s := s.with(t)
		id := s.kickOff("Patient")
		j := s.waitStatus(id, time.Minute, "completed", "failed")
		if j.Status != "completed" || len(j.Files) == 0 {
			t.Fatalf("job %s with %d files", j.Status, len(j.Files))
		}
		if status, _ := download(t, j.Files[0].URL); status != http.StatusOK {
			t.Fatalf("download before the cancel: %d", status)
		}
		status, data := s.do("DELETE", "/v1/bulk/jobs/"+id, nil)
		if status != http.StatusAccepted {
			t.Fatalf("DELETE: %d %s", status, data)
		}
		if j := s.job(id); j.Status != "cancelled" {
			t.Errorf("GET right after DELETE: %s, want cancelled", j.Status)
		}
		ev := s.waitEvent(id, 30*time.Second, events.KindCancelled)
		if n := ev.Data.(*events.ExportCancelled).PartsRemoved; n != len(j.Files) {
			t.Errorf("ExportCancelled says %d parts removed, the job had %d", n, len(j.Files))
		}
		if n := len(s.objects(id)); n != 0 {
			t.Errorf("%d objects left", n)
		}
		for _, u := range []string{j.DownloadURL, j.Files[0].URL} {
			if status, body := download(t, u); status != http.StatusGone && status != http.StatusNotFound {
				t.Errorf("URL of a cancelled job: %d %s, want 410 or 404", status, body)
			}
		}
	})
}
