package crashtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
)

// node is one member of a test cluster: a natsnode process whose ports
// and store stay the same across restarts.
type node struct {
	name   string
	dir    string
	client int
	route  int
	p      *proc
}

// cluster is a JetStream cluster of embedded servers on loopback, each in
// a process of its own.
type cluster struct {
	tb    testing.TB
	name  string
	nodes []*node
}

func newCluster(tb testing.TB, size int) *cluster {
	tb.Helper()
	c := &cluster{tb: tb, name: "jetexport-test"}
	dir := tb.TempDir()
	for i := range size {
		c.nodes = append(c.nodes, &node{name: fmt.Sprintf("n%d", i+1), dir: filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			client: freePort(tb), route: freePort(tb)})
	}
	for i := range c.nodes {
		c.start(i)
	}
	c.waitReady()
	return c
}

// freePort returns a loopback port nothing listens on now.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start starts node i from its store.
func (c *cluster) start(i int) {
	c.tb.Helper()
	n := c.nodes[i]
	var routes []string
	for _, o := range c.nodes {
		if o != n {
			routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", o.route))
		}
	}
	n.p = startProgram(c.tb, natsnode, n.name, nil, "--name", n.name, "--store", n.dir,
		"--listen", fmt.Sprintf("127.0.0.1:%d", n.client), "--cluster-name", c.name,
		"--cluster-listen", fmt.Sprintf("127.0.0.1:%d", n.route), "--routes", strings.Join(routes, ","))
	n.p.waitLine(c.tb, 30*time.Second, "natsnode ready")
}

// kill SIGKILLs node i; its store stays for a restart.
func (c *cluster) kill(i int) { c.nodes[i].p.kill() }

// urls lists every node's client URL, as services are given them.
func (c *cluster) urls() string {
	var u []string
	for _, n := range c.nodes {
		u = append(u, fmt.Sprintf("nats://127.0.0.1:%d", n.client))
	}
	return strings.Join(u, ",")
}

// waitReady waits until JetStream can place a stream on every node: the
// meta group has a leader and knows all the peers.
func (c *cluster) waitReady() {
	c.tb.Helper()
	_, js := natstest.Connect(c.tb, c.urls())
	natstest.Eventually(c.tb, time.Minute, "the cluster never took a stream of 3 replicas", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "CRASHTEST_READY",
			Subjects: []string{"crashtest.ready"}, Replicas: len(c.nodes), Storage: jetstream.MemoryStorage})
		return err == nil && js.DeleteStream(ctx, "CRASHTEST_READY") == nil
	})
}

// waitStreams waits until every stream of the system has a leader again.
func (c *cluster) waitStreams(s *system) {
	c.tb.Helper()
	natstest.Eventually(c.tb, 2*time.Minute, "a stream never got a leader back", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for name := range s.js.StreamNames(ctx).Name() {
			st, err := s.js.Stream(ctx, name)
			if err != nil {
				return false
			}
			info, err := st.Info(ctx)
			if err != nil || info.Cluster == nil || info.Cluster.Leader == "" {
				return false
			}
		}
		return true
	})
}

// logConsumers logs, when the test failed, the state of every consumer of
// the event log: whether it had a leader and what it held back.
func logConsumers(tb testing.TB, s *system) {
	if !tb.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for info := range s.a.Stream.ListConsumers(ctx).Info() {
		leader := "none"
		if info.Cluster != nil {
			leader = info.Cluster.Leader
		}
		tb.Logf("consumer %s: leader %s, pending %d, ack pending %d, waiting pulls %d, redelivered %d, delivered %d, ack floor %d",
			info.Name, leader, info.NumPending, info.NumAckPending, info.NumWaiting, info.NumRedelivered,
			info.Delivered.Stream, info.AckFloor.Stream)
	}
}

// index returns the position of the node named name.
func (c *cluster) index(name string) int {
	for i, n := range c.nodes {
		if n.name == name {
			return i
		}
	}
	c.tb.Fatalf("no node %q", name)
	return -1
}

// TestCluster runs the services as processes against a 3-node cluster
// with every stream and bucket at 3 replicas, kills the node leading the
// event log in the middle of an export, and checks that the export
// completes with every line and event; then restarts every server and
// process from its disk state and checks nothing is lost.
func TestCluster(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3)
	s := newSystem(t, options{natsURL: c.urls(), common: []string{"--replicas", "3"}})
	s.load(20, 7)
	want := s.stored("Patient", "Observation")
	// A task hung by the node loss is given up by the watchdog after
	// --stuck-after and retried (5 minutes by default, shortened here).
	xa := s.exporter("exporter-a", "", "--part-max-resources", "30", "--stuck-after", "15s", "--retention-check", "1s")
	xb := s.exporter("exporter-b", "", "--part-max-resources", "30", "--stuck-after", "15s", "--retention-check", "1s")
	id := s.kickOff("Patient", "Observation")
	t.Cleanup(func() { logConsumers(t, s) })
	natstest.Eventually(t, time.Minute, "no part written", func() bool { return s.job(id).Progress.Files >= 4 })

	ctx := context.Background()
	info, err := s.a.Stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("the BULK stream is not replicated 3 times: %+v", info.Cluster)
	}
	leader := c.index(info.Cluster.Leader)
	killedAt := time.Now()
	c.kill(leader)
	t.Logf("killed %s, the BULK leader, with %d parts written", info.Cluster.Leader, s.job(id).Progress.Files)

	s.waitStatus(id, 2*time.Minute, "completed", "failed")
	seen := time.Since(killedAt)
	evs := s.verifyExport(id, want)
	for _, ev := range evs {
		if _, ok := ev.Data.(*events.ExportCompleted); ok {
			t.Logf("ExportCompleted published %s after the node died, read by the client %s after",
				ev.Time.Sub(killedAt).Round(time.Millisecond), seen.Round(time.Millisecond))
		}
	}
	j := s.job(id)

	// Kill every process, then start them all again from their disks.
	for _, p := range []*proc{s.gw, xa, xb} {
		p.kill()
	}
	for i := range c.nodes {
		c.kill(i)
	}
	restarted := time.Now()
	for i := range c.nodes {
		c.start(i)
	}
	c.waitReady()
	c.waitStreams(s)
	t.Logf("cluster back %s after the restart", time.Since(restarted).Round(time.Millisecond))
	s.startGateway()
	s.exporter("exporter-a", "")
	if again := s.jobEvents(id); len(again) != len(evs) {
		t.Errorf("after the restart the log holds %d events of the job, before %d", len(again), len(evs))
	}
	after := s.job(id) // the key still works
	if after.Status != "completed" || len(after.Files) != len(j.Files) {
		t.Fatalf("after the restart: %s with %d files, before %d", after.Status, len(after.Files), len(j.Files))
	}
	checkLines(t, s.exportLines(after), want)
	if status, _ := download(t, after.DownloadURL); status != http.StatusOK {
		t.Errorf("downloadUrl after the restart: %d", status)
	}
	if got := s.stored("Patient", "Observation"); !cmp.Equal(got, want) {
		t.Errorf("after the restart the records differ: %d now, %d before", len(got), len(want))
	}
	if n := len(s.objects(id)); n != len(j.Files) {
		t.Errorf("after the restart %d objects, before %d", n, len(j.Files))
	}
	t.Logf("checked %s after the restart", time.Since(restarted).Round(time.Millisecond))
}

// TestJobEventsInCluster reads a job's log, as every exporter task does
// (broker.JobEvents), from a 3-node cluster. A job with 600 events takes
// three fetches of the ordered consumer, and each fetch makes a new
// server-side consumer; every read must still succeed.
func TestJobEventsInCluster(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3)
	_, js := natstest.Connect(t, c.urls())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := broker.Setup(ctx, js, broker.Config{Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	id := "job_01JZZZZZZZZZZZZZZZZZZZZZZZ"
	publish := func(p events.Payload, part string) {
		ev := events.New(events.MsgID(id, p.Kind(), part), time.Now(), tenant, id, p)
		if _, err := broker.Publish(ctx, js, ev, ev.ID); err != nil {
			t.Fatal(err)
		}
	}
	publish(&events.ExportRequested{ResourceTypes: []string{"Observation"}}, "")
	for n := 1; n < 600; n++ {
		publish(&events.ChunkWritten{ResourceType: "Observation", Part: n, Object: events.ObjectName(tenant, id, "Observation", n)}, fmt.Sprint(n))
	}
	failed := 0
	for range 60 {
		evs, err := broker.JobEvents(ctx, js, tenant, id)
		switch {
		case err != nil:
			failed++
			t.Logf("JobEvents: %v", err)
		case len(evs) != 600:
			t.Errorf("JobEvents returned %d events, want 600", len(evs))
		}
	}
	if failed > 0 {
		t.Errorf("%d of 60 reads of the job's events failed", failed)
	}
}
