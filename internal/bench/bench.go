// Package bench measures an export against the two raw JetStream rates it
// cannot beat, on one server: reading the latest value of every record key,
// and putting the same bytes into the object store. The NATS server and the
// exporters run as separate processes of the jetexport binary, so the
// exporter's peak memory is its own.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/synthetic"
)

// Config says what to measure.
type Config struct {
	// Sizes are the numbers of resources to load and export, one run each.
	Sizes []int
	// Exporters is how many exporter processes share the export.
	Exporters []int
	// Binary is the jetexport executable started for the server and exporters.
	Binary string
	// Dir holds the server's store; a temporary directory when empty.
	Dir  string
	Seed int64
	// PartMaxResources rolls the export's parts.
	PartMaxResources int
	// TaskResources, when set, is the exporters' --task-resources: how the
	// export's types are grouped into tasks (each a pass over the records).
	TaskResources int
	Out           io.Writer
}

// Result is one run's figures.
type Result struct {
	Resources  int
	Exporters  int
	Bytes      int64 // of the stored records
	LoadRate   float64
	ScanRate   float64 // values/s
	ScanBytes  float64 // bytes/s
	PutBytes   float64 // bytes/s
	ExportTime time.Duration
	ExportRate float64 // resources/s
	ExportB    float64 // bytes/s of NDJSON written
	Ratio      float64 // export bytes/s over the slower raw rate
	PeakRSS    int64   // bytes, highest of the exporter processes
	Parts      int
	// Types counts the loaded resources per type.
	Types map[string]int
	// Work is who did the export's tasks and whether a part was recorded twice.
	Work Work
	// CPU is the processor time the server and each exporter used during the export.
	CPU CPU
}

var tenant = events.TenantOf("bench", events.ModeTest)

// Run measures every size and exporter count and prints a table to cfg.Out.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	var out []Result
	for _, n := range cfg.Sizes {
		for _, x := range cfg.Exporters {
			r, err := runOne(ctx, cfg, n, x)
			if err != nil {
				return out, fmt.Errorf("%d resources, %d exporters: %w", n, x, err)
			}
			out = append(out, r)
			print1(cfg.Out, r)
			printWork(cfg.Out, r)
			printCPU(cfg.Out, r)
			if err := r.Work.check(); err != nil {
				return out, fmt.Errorf("%d resources, %d exporters: %w", n, x, err)
			}
		}
	}
	return out, nil
}

func print1(w io.Writer, r Result) {
	fmt.Fprintf(w, "resources=%d exporters=%d data=%.0fMB load=%.0f/s | raw scan %.0f values/s %.1f MB/s | raw put %.1f MB/s | "+
		"export %.2fs %.0f resources/s %.1f MB/s parts=%d | ratio %.2f | exporter peak RSS %.1f MB\n",
		r.Resources, r.Exporters, float64(r.Bytes)/1e6, r.LoadRate, r.ScanRate, r.ScanBytes/1e6, r.PutBytes/1e6,
		r.ExportTime.Seconds(), r.ExportRate, r.ExportB/1e6, r.Parts, r.Ratio, float64(r.PeakRSS)/1e6)
}

func runOne(ctx context.Context, cfg Config, n, exporters int) (Result, error) {
	res := Result{Resources: n, Exporters: exporters}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "jetexport-bench-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	dir = filepath.Join(dir, fmt.Sprintf("run-%d-%d", n, exporters))
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return res, err
	}
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	srv, err := start(ctx, cfg.Binary, "serve", "--services", "none", "--data", dir,
		"--nats-listen", "127.0.0.1:"+strconv.Itoa(port), "--log-level", "warn")
	if err != nil {
		return res, err
	}
	defer stop(srv)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	nc, js, err := broker.Connect(cctx, url, "bench")
	if err != nil {
		return res, err
	}
	defer nc.Close()
	a, err := broker.Setup(cctx, js, broker.Config{})
	if err != nil {
		return res, err
	}

	t0 := time.Now()
	types, bytes, err := load(ctx, js, cfg.Seed, n)
	if err != nil {
		return res, fmt.Errorf("load: %w", err)
	}
	res.Types = types
	res.Bytes, res.LoadRate = bytes, float64(n)/time.Since(t0).Seconds()

	t0 = time.Now()
	values, scanned, err := rawScan(ctx, js)
	if err != nil {
		return res, fmt.Errorf("raw scan: %w", err)
	}
	d := time.Since(t0).Seconds()
	if values != n {
		return res, fmt.Errorf("raw scan read %d values, loaded %d", values, n)
	}
	res.ScanRate, res.ScanBytes = float64(values)/d, float64(scanned)/d

	t0 = time.Now()
	if err := rawPut(ctx, a.Exports, scanned); err != nil {
		return res, fmt.Errorf("raw put: %w", err)
	}
	res.PutBytes = float64(scanned) / time.Since(t0).Seconds()

	var procs []*exec.Cmd
	for i := range exporters {
		// --job-tasks: every exporter may work on the one export at once.
		args := []string{"exporter", "--nats-url", url, "--log-level", "warn",
			"--worker-id", "bench-" + strconv.Itoa(i), "--part-max-resources", strconv.Itoa(cfg.PartMaxResources),
			"--job-tasks", strconv.Itoa(max(2, exporters))}
		if cfg.TaskResources > 0 {
			args = append(args, "--task-resources", strconv.Itoa(cfg.TaskResources))
		}
		p, err := start(ctx, cfg.Binary, args...)
		if err != nil {
			return res, err
		}
		defer stop(p)
		procs = append(procs, p)
	}
	cpu0 := cpuOf(srv, procs)
	done, err := export(ctx, a, nc, slices.Sorted(maps.Keys(types)))
	if err != nil {
		return res, err
	}
	res.CPU = cpuOf(srv, procs).since(cpu0)
	res.ExportTime = done.took
	res.ExportRate = float64(done.resources) / done.took.Seconds()
	res.ExportB = float64(done.bytes) / done.took.Seconds()
	res.Ratio = res.ExportB / min(res.ScanBytes, res.PutBytes)
	res.Parts = done.parts
	if done.resources != int64(n) {
		return res, fmt.Errorf("export wrote %d resources, loaded %d", done.resources, n)
	}
	if res.Work, err = tally(ctx, js, tenant, done.jobID); err != nil {
		return res, fmt.Errorf("read the job's events: %w", err)
	}
	for _, p := range procs {
		res.PeakRSS = max(res.PeakRSS, peakRSS(p.Process.Pid))
	}
	return res, nil
}

// load stores n synthetic resources, pipelined, and returns the count per
// type and the bytes stored.
func load(ctx context.Context, js jetstream.JetStream, seed int64, n int) (map[string]int, int64, error) {
	types := map[string]int{}
	var bytes int64
	stamp := []byte(`,"meta":{"versionId":"1","lastUpdated":"` + time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + `"}}`)
	err := synthetic.StreamResources(seed, n, func(r synthetic.Resource) error {
		types[r.Type]++
		v := make([]byte, 0, len(r.JSON)+len(stamp))
		v = append(append(v, r.JSON[:len(r.JSON)-1]...), stamp...)
		bytes += int64(len(v))
		subject := "$KV." + events.BucketFHIR + "." + events.RecordKey(tenant, r.Type, r.ID)
		_, err := js.PublishAsync(subject, v)
		if errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			// The server is behind (a busy machine): let it catch up once.
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return ctx.Err()
			}
			_, err = js.PublishAsync(subject, v)
		}
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	return types, bytes, nil
}

// rawScan reads the latest value of every key of the tenant, the way the
// exporter's scan does, and nothing else.
func rawScan(ctx context.Context, js jetstream.JetStream) (int, int64, error) {
	// The server lists every key's last sequence before the first message,
	// about 2 s per million keys here: more than the client's default 5 s
	// from 3,000,000 on.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	c, err := js.OrderedConsumer(cctx, broker.FHIRStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"$KV." + events.BucketFHIR + "." + string(tenant) + ".>"},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return 0, 0, err
	}
	// Count-limited pulls, as fhirstore's scan makes (1,000 in flight for
	// records of about 1 KiB). A byte limit makes the server end every pull
	// with a "409 Batch Completed" status, which the iterator's channel
	// (sized to the count) has no room for when the reader lags: it printed
	// "nats: slow consumer, messages dropped".
	it, err := c.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return 0, 0, err
	}
	defer it.Stop()
	n, bytes := 0, int64(0)
	for {
		msg, err := it.Next()
		if err != nil {
			return n, bytes, err
		}
		md, err := msg.Metadata()
		if err != nil {
			return n, bytes, err
		}
		n++
		bytes += int64(len(msg.Data()))
		if md.NumPending == 0 {
			return n, bytes, nil
		}
	}
}

// rawPut stores size bytes the way an export stores its parts: objects of
// at most 64 MiB (the default part) in 512 KiB chunks, one after the other.
// One object of the whole size would keep up to 4,000 chunks in flight,
// more than the server's 128 MiB ingest queue for a stream, which then
// refuses them (429, too many requests) from about 3 GB on.
func rawPut(ctx context.Context, obs jetstream.ObjectStore, size int64) error {
	const part, chunk = 64 << 20, 512 << 10
	line := []byte(strings.Repeat("x", 1023) + "\n")
	block := make([]byte, 0, 1<<20)
	for len(block)+len(line) <= cap(block) {
		block = append(block, line...)
	}
	src := &repeat{b: block}
	var names []string
	for left := size; left > 0; left -= part {
		name := fmt.Sprintf("bench/raw.%d.ndjson", len(names)+1)
		r := io.LimitReader(src, min(left, part))
		if _, err := obs.Put(ctx, jetstream.ObjectMeta{Name: name, Opts: &jetstream.ObjectMetaOptions{ChunkSize: chunk}}, fill{r}); err != nil {
			return err
		}
		names = append(names, name)
	}
	for _, name := range names {
		if err := obs.Delete(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

type repeat struct {
	b   []byte
	off int
}

func (r *repeat) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.b[r.off:])
		n += c
		r.off = (r.off + c) % len(r.b)
	}
	return n, nil
}

// fill makes every Read fill its buffer, as the exporter's parts do.
type fill struct{ r io.Reader }

func (f fill) Read(p []byte) (int, error) {
	n, err := io.ReadFull(f.r, p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

type exportDone struct {
	jobID            string
	took             time.Duration
	resources, bytes int64
	parts            int
}

// export kicks off an export of every type and waits for its completion.
func export(ctx context.Context, a *broker.Assets, nc *nats.Conn, types []string) (exportDone, error) {
	id := "job_" + ulid.Make().String()
	end := make(chan *nats.Msg, 1)
	sub, err := nc.Subscribe(events.SubjectRoot+"."+string(tenant)+"."+id+".*", func(m *nats.Msg) {
		if strings.HasSuffix(m.Subject, ".completed") || strings.HasSuffix(m.Subject, ".failed") {
			end <- m
		}
	})
	if err != nil {
		return exportDone{}, err
	}
	defer sub.Unsubscribe()
	ev := events.New(events.MsgID(id, events.KindRequested, ""), time.Now(), tenant, id,
		&events.ExportRequested{ResourceTypes: types, Level: events.LevelSystem, Door: "rest", Requester: "bench"})
	t0 := time.Now()
	if _, err := broker.Publish(ctx, a.JS, ev, ev.ID); err != nil {
		return exportDone{}, err
	}
	select {
	case m := <-end:
		took := time.Since(t0)
		e, err := events.Decode(m.Data)
		if err != nil {
			return exportDone{}, err
		}
		c, ok := e.Data.(*events.ExportCompleted)
		if !ok {
			return exportDone{}, fmt.Errorf("export failed: %+v", e.Data)
		}
		return exportDone{jobID: id, took: took, resources: c.Resources, bytes: c.Bytes, parts: len(c.Files)}, nil
	case <-ctx.Done():
		return exportDone{}, ctx.Err()
	case <-time.After(30 * time.Minute):
		return exportDone{}, errors.New("export did not finish in 30 minutes")
	}
}

func start(ctx context.Context, bin string, args ...string) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s %s: %w", bin, args[0], err)
	}
	return cmd, nil
}

func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// peakRSS reads a process's high-water mark of resident memory (Linux).
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
