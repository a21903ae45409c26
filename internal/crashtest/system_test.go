package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
)

// tenant is the namespace of the key every system creates.
var tenant = events.TenantOf("acme", events.ModeTest)

// options shape a system.
type options struct {
	// common are flags every service process gets (--retention, --replicas).
	common []string
	// gateway are the gateway's own extra flags.
	gateway []string
	// natsURL, when set, is an external NATS server or cluster: the system
	// starts no NATS process.
	natsURL string
}

// system is a jetexport deployment of separate processes: NATS (`serve
// --services none`), a gateway (which runs the projector) and whatever
// exporters the test starts, plus the test's own NATS connection.
type system struct {
	tb      testing.TB
	dir     string
	opts    options
	natsURL string
	nats    *proc
	gw      *proc
	httpURL string
	key     string
	js      jetstream.JetStream
	a       *broker.Assets
}

func newSystem(tb testing.TB, o options) *system {
	tb.Helper()
	s := &system{tb: tb, dir: tb.TempDir(), opts: o, natsURL: o.natsURL}
	if s.natsURL == "" {
		s.startNATS()
	}
	s.startGateway()
	_, s.js = natstest.Connect(tb, s.natsURL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := broker.Open(ctx, s.js)
	if err != nil {
		tb.Fatalf("open assets: %v", err)
	}
	s.a = a
	s.key = strings.TrimSpace(runCmd(tb, 30*time.Second, "keys", "create", "--tenant", tenant.Customer(), "--nats-url", s.natsURL))
	return s
}

// startNATS starts the NATS process on a free port, with its store under
// the system's directory (the same on every restart).
func (s *system) startNATS() {
	s.tb.Helper()
	args := append([]string{"serve", "--services", "none", "--data", filepath.Join(s.dir, "nats"),
		"--nats-listen", "127.0.0.1:0", "--log-format", "json"}, s.opts.common...)
	s.nats = start(s.tb, "nats", nil, args...)
	s.natsURL = logField(s.tb, s.nats.waitLine(s.tb, 30*time.Second, "jetexport serving"), "nats")
}

// startGateway starts the gateway (and its projector) on a free port.
func (s *system) startGateway() {
	s.tb.Helper()
	args := append([]string{"gateway", "--nats-url", s.natsURL, "--http", "127.0.0.1:0", "--log-format", "json",
		"--rate-limit", "1000000"}, s.opts.common...)
	s.gw = start(s.tb, "gateway", nil, append(args, s.opts.gateway...)...)
	s.httpURL = logField(s.tb, s.gw.waitLine(s.tb, 30*time.Second, "jetexport running"), "http")
}

// exporter starts an exporter process named name. pause, if not empty, is
// its JETEXPORT_TEST_PAUSE_AT. Parts roll every 300 resources and a silent
// worker's task is handed on after 2 s, unless flags say otherwise.
func (s *system) exporter(name, pause string, flags ...string) *proc {
	s.tb.Helper()
	var env []string
	if pause != "" {
		env = append(env, "JETEXPORT_TEST_PAUSE_AT="+pause)
	}
	args := append([]string{"exporter", "--nats-url", s.natsURL, "--worker-id", name, "--log-format", "json",
		"--ack-wait", "2s", "--part-max-resources", "300"}, s.opts.common...)
	return start(s.tb, name, env, append(args, flags...)...)
}

// load stores n synthetic patients (about 52 records each) through the
// gateway with `jetexport load`.
func (s *system) load(patients int, seed int) {
	s.tb.Helper()
	runCmd(s.tb, 2*time.Minute, "load", "--url", s.httpURL, "--key", s.key,
		"--synthetic", fmt.Sprint(patients), "--seed", fmt.Sprint(seed))
}

// jobView is what GET /v1/bulk/jobs/{id} answers, as far as the tests look.
type jobView struct {
	JobID           string  `json:"jobId"`
	Status          string  `json:"status"`
	TransactionTime *string `json:"transactionTime"`
	DownloadURL     string  `json:"downloadUrl"`
	Files           []struct {
		ResourceType string `json:"resourceType"`
		URL          string `json:"url"`
		Count        int    `json:"count"`
	} `json:"files"`
	Progress struct {
		Resources int `json:"resources"`
		Files     int `json:"files"`
	} `json:"progress"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// do sends an API request with the system's key and returns the status
// and the envelope's data (or its error, as raw JSON).
func (s *system) do(method, path string, body []byte) (int, json.RawMessage) {
	s.tb.Helper()
	req, err := http.NewRequest(method, s.httpURL+path, bytes.NewReader(body))
	if err != nil {
		s.tb.Fatal(err)
	}
	req.Header.Set("x-api-key", s.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		s.tb.Fatalf("%s %s: read body: %v", method, path, err)
	}
	var env struct {
		Data  json.RawMessage `json:"data"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		s.tb.Fatalf("%s %s: %d, not the JSON envelope: %q", method, path, resp.StatusCode, raw)
	}
	if env.Error != nil {
		return resp.StatusCode, env.Error
	}
	return resp.StatusCode, env.Data
}

// kickOff starts an export of types and returns its job id.
func (s *system) kickOff(types ...string) string {
	s.tb.Helper()
	body, _ := json.Marshal(map[string]any{"resourceTypes": types})
	status, data := s.do("POST", "/v1/bulk/export", body)
	if status != http.StatusAccepted {
		s.tb.Fatalf("kick-off: %d %s", status, data)
	}
	var d struct{ JobID string }
	if err := json.Unmarshal(data, &d); err != nil || d.JobID == "" {
		s.tb.Fatalf("kick-off answer %s: %v", data, err)
	}
	return d.JobID
}

// job reads a job as a client does, retrying while the gateway answers
// 503 (a cluster electing a leader).
func (s *system) job(id string) jobView {
	s.tb.Helper()
	var status int
	var data json.RawMessage
	natstest.Eventually(s.tb, 30*time.Second, "the gateway stayed unavailable", func() bool {
		status, data = s.do("GET", "/v1/bulk/jobs/"+id, nil)
		return status != http.StatusServiceUnavailable
	})
	if status != http.StatusOK {
		s.tb.Fatalf("GET job %s: %d %s", id, status, data)
	}
	var j jobView
	if err := json.Unmarshal(data, &j); err != nil {
		s.tb.Fatal(err)
	}
	return j
}

// waitStatus polls the job until it has one of the statuses and returns it.
func (s *system) waitStatus(id string, timeout time.Duration, statuses ...string) jobView {
	s.tb.Helper()
	var j jobView
	natstest.Eventually(s.tb, timeout, fmt.Sprintf("job %s never became %v", id, statuses), func() bool {
		j = s.job(id)
		for _, st := range statuses {
			if j.Status == st {
				return true
			}
		}
		return false
	})
	return j
}

// stored returns the latest value of every record of types in the fhir
// bucket, by Type/id: what an export started now must hold.
func (s *system) stored(types ...string) map[string][]byte {
	s.tb.Helper()
	return s.asOf(math.MaxUint64, types...)
}

// refOf turns a record key <tenant>.<Type>.<id> into Type/id.
func refOf(tb testing.TB, key string) string {
	tb.Helper()
	parts := strings.SplitN(key, ".", 3)
	if len(parts) != 3 {
		tb.Fatalf("record key %q", key)
	}
	return parts[1] + "/" + parts[2]
}

// jobEvents reads one job's events from the BULK stream.
func (s *system) jobEvents(id string) []events.Event {
	s.tb.Helper()
	var evs []events.Event
	natstest.Eventually(s.tb, time.Minute, "the job's events cannot be read", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		if evs, err = broker.JobEvents(ctx, s.js, tenant, id); err != nil {
			// TestJobEventsInCluster shows why this retries.
			s.tb.Logf("read the events of %s: %v; again", id, err)
		}
		return err == nil
	})
	return evs
}

// with returns the system as seen by a subtest: failures go to tb.
func (s *system) with(tb testing.TB) *system {
	c := *s
	c.tb = tb
	return &c
}

// waitEvent waits for the job's last event of kind and returns it.
func (s *system) waitEvent(id string, timeout time.Duration, kind events.Kind) events.Event {
	s.tb.Helper()
	var ev events.Event
	natstest.Eventually(s.tb, timeout, fmt.Sprintf("no %s event of %s", kind, id), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		ev, err = broker.LastEvent(ctx, s.a.Stream, tenant, id, kind)
		return err == nil
	})
	return ev
}

// asOf reads the fhir bucket's stream from its start and returns each
// record of types as of stream sequence seq (deletes applied): the
// snapshot an export whose bound is seq must hold. A read that fails (a
// cluster moving a leader) is started again.
func (s *system) asOf(seq uint64, types ...string) map[string][]byte {
	s.tb.Helper()
	var out map[string][]byte
	var err error
	natstest.Eventually(s.tb, time.Minute, "the records stream cannot be read", func() bool {
		out, err = s.readAsOf(seq, types)
		if err != nil {
			s.tb.Logf("read the records stream: %v; again", err)
		}
		return err == nil
	})
	return out
}

func (s *system) readAsOf(seq uint64, types []string) (map[string][]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prefix := "$KV." + events.BucketFHIR + "."
	var filters []string
	for _, t := range types {
		filters = append(filters, prefix+events.RecordKey(tenant, t, ">"))
	}
	c, err := s.js.OrderedConsumer(ctx, broker.FHIRStream, jetstream.OrderedConsumerConfig{FilterSubjects: filters})
	if err != nil {
		return nil, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, err
	}
	// Messages, not Next: an ordered consumer makes a new server-side
	// consumer for every Fetch or Next, and in a cluster a pull on a
	// consumer just made can answer "no responders".
	it, err := c.Messages()
	if err != nil {
		return nil, err
	}
	defer it.Stop()
	out := map[string][]byte{}
	for pending := info.NumPending; pending > 0; {
		msg, err := it.Next(jetstream.NextMaxWait(10 * time.Second))
		if err != nil {
			return nil, err
		}
		md, err := msg.Metadata()
		if err != nil {
			return nil, err
		}
		if md.Sequence.Stream > seq {
			break
		}
		pending = md.NumPending
		ref := refOf(s.tb, strings.TrimPrefix(msg.Subject(), prefix))
		if op := msg.Headers().Get("KV-Operation"); op == "DEL" || op == "PURGE" {
			delete(out, ref)
		} else {
			out[ref] = bytes.Clone(msg.Data())
		}
	}
	return out, nil
}
