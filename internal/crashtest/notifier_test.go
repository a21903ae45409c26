package crashtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jetexport/jetexport/internal/natstest"
	"github.com/jetexport/jetexport/internal/webhooks"
)

// receiver is a webhook endpoint on 127.0.0.1 that fails its first call.
type receiver struct {
	mu     sync.Mutex
	secret string
	calls  []call
}

type call struct {
	id       string
	status   int
	verified error
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	status := http.StatusOK
	if len(r.calls) == 0 {
		status = http.StatusInternalServerError
	}
	err := webhooks.VerifyRequest(r.secret, req.Header, body, time.Now(), 5*time.Minute)
	r.calls = append(r.calls, call{id: req.Header.Get("webhook-id"), status: status, verified: err})
	w.WriteHeader(status)
}

func (r *receiver) seen() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// TestNotifierKilledBetweenAttempts SIGKILLs the notifier process after a
// failed first attempt; a new notifier process makes the second attempt,
// with the same webhook-id, and the job shows the delivery delivered.
func TestNotifierKilledBetweenAttempts(t *testing.T) {
	t.Parallel()
	s := newSystem(t, options{gateway: []string{"--webhook-allow-private"}})
	s.load(2, 11)
	rcv := &receiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rcv}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	status, data := s.do("POST", "/v1/webhooks", []byte(`{"url":"http://`+ln.Addr().String()+`/hook","events":["export.completed"]}`))
	if status != http.StatusCreated {
		t.Fatalf("subscribe: %d %s", status, data)
	}
	var sub struct{ Secret string }
	if err := json.Unmarshal(data, &sub); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	rcv.secret = sub.Secret
	rcv.mu.Unlock()

	notifier := func(name string) *proc {
		// A long wait between attempts leaves time to kill the first
		// notifier between them.
		return start(t, name, nil, "notifier", "--nats-url", s.natsURL, "--public-url", s.httpURL,
			"--webhook-allow-private", "--webhook-schedule", "3s", "--log-format", "json")
	}
	first := notifier("notifier-1")
	s.exporter("exporter-1", "")
	id := s.kickOff("Patient", "Observation")
	s.waitStatus(id, 2*time.Minute, "completed")

	// Killed between attempts: once the first attempt is recorded (the
	// delivery reads retrying) and before the next is due. (A kill in the
	// middle of an attempt repeats that attempt under the same webhook-id.)
	natstest.Eventually(t, time.Minute, "first delivery attempt never recorded", func() bool {
		return len(rcv.seen()) >= 1 && deliveryStatus(s, id) == "retrying"
	})
	first.kill()
	notifier("notifier-2")
	natstest.Eventually(t, time.Minute, "the restarted notifier never delivered", func() bool {
		c := rcv.seen()
		return len(c) >= 2 && c[len(c)-1].status == http.StatusOK
	})
	calls := rcv.seen()
	for i, c := range calls {
		if c.verified != nil {
			t.Errorf("attempt %d: signature does not verify: %v", i+1, c.verified)
		}
		if c.id != calls[0].id {
			t.Errorf("attempt %d has webhook-id %q, the first had %q", i+1, c.id, calls[0].id)
		}
	}
	natstest.Eventually(t, 30*time.Second, "the job never showed the delivery delivered after 2 attempts", func() bool {
		return deliveryStatus(s, id) == "delivered/2"
	})
	if len(calls) != 2 {
		t.Errorf("the receiver was called %d times, want 2", len(calls))
	}
	t.Logf("%d attempts, webhook-id %s, delivered after a SIGKILL of the notifier between attempts", len(calls), calls[0].id)
}

// deliveryStatus returns the job's one webhook delivery as "status", with
// "/attempts" once delivered.
func deliveryStatus(s *system, id string) string {
	_, raw := s.do("GET", "/v1/bulk/jobs/"+id, nil)
	var j struct {
		Webhooks []struct {
			Status   string `json:"status"`
			Attempts int    `json:"attempts"`
		} `json:"webhooks"`
	}
	if json.Unmarshal(raw, &j) != nil || len(j.Webhooks) != 1 {
		return ""
	}
	if d := j.Webhooks[0]; d.Status == "delivered" {
		return fmt.Sprintf("delivered/%d", d.Attempts)
	}
	return j.Webhooks[0].Status
}
