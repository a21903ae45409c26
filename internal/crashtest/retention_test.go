package crashtest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/natstest"
)

// TestRetention runs with a 4 s retention: a finished job's files expire,
// the job reads expired, its URLs answer 410 and the store empties.
func TestRetention(t *testing.T) {
	t.Parallel()
	const retention = 4 * time.Second
	s := newSystem(t, options{common: []string{"--retention", retention.String()}, gateway: []string{"--url-ttl", retention.String()}})
	s.load(5, 3)
	s.exporter("exporter-a", "", "--part-max-resources", "100", "--retention-check", "200ms")
	id := s.kickOff("Patient", "Observation")
	j := s.waitStatus(id, time.Minute, "completed", "failed")
	if j.Status != "completed" {
		t.Fatalf("job %s", j.Status)
	}
	if status, _ := download(t, j.DownloadURL); status != http.StatusOK {
		t.Fatalf("download while retained: %d", status)
	}
	// Poll as a client would; the last completed answer's URLs are the
	// freshest, still within their own lifetime when the job expires.
	last := j
	natstest.Eventually(t, 30*time.Second, "job never expired", func() bool {
		j = s.job(id)
		if j.Status == "completed" {
			last = j
		}
		return j.Status == "expired"
	})
	for _, u := range append([]string{last.DownloadURL}, fileURLs(last)...) {
		if status, body := download(t, u); status != http.StatusGone {
			t.Errorf("URL of an expired job: %d %s, want 410", status, body)
		}
	}
	expired := s.waitEvent(id, 10*time.Second, events.KindExpired)
	var completed time.Time
	for _, ev := range s.jobEvents(id) {
		if _, ok := ev.Data.(*events.ExportCompleted); ok {
			completed = ev.Time
		}
	}
	if kept := expired.Time.Sub(completed); kept < retention {
		t.Errorf("expired %s after completion, before the %s retention", kept, retention)
	}
	if n := len(s.objects(id)); n != 0 {
		t.Errorf("%d objects of the expired job left in the store", n)
	}
	// Nothing of the export stays behind: the store's stream empties (the
	// deletion markers go with the TTL too).
	ctx := context.Background()
	st, err := s.js.Stream(ctx, "OBJ_"+events.ObjectStoreExports)
	if err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 3*retention, "the exports store never emptied", func() bool {
		info, err := st.Info(ctx)
		return err == nil && info.State.Msgs == 0
	})
}

func fileURLs(j jobView) []string {
	var out []string
	for _, f := range j.Files {
		out = append(out, f.URL)
	}
	return out
}
