package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/internal/app"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/services/exporter"
	"github.com/jetexport/jetexport/services/gateway"
)

// envDuration and friends read a flag's default from JETEXPORT_<NAME>; a
// value that does not parse is reported when the flags are checked.
type envErrors []error

func (e *envErrors) duration(name string, def time.Duration) time.Duration {
	v := env(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		*e = append(*e, fmt.Errorf("JETEXPORT_%s: %w", envName(name), err))
		return def
	}
	return d
}

func (e *envErrors) int(name string, def int) int {
	v := env(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		*e = append(*e, fmt.Errorf("JETEXPORT_%s: %w", envName(name), err))
		return def
	}
	return n
}

func (e *envErrors) bool(name string, def bool) bool {
	v := env(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		*e = append(*e, fmt.Errorf("JETEXPORT_%s: %w", envName(name), err))
		return def
	}
	return b
}

func envName(flagName string) string {
	return strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// commonFlags are the flags every service process shares.
type commonFlags struct {
	natsURL   string
	logLevel  string
	logFormat string
	broker    broker.Config
	history   int
}

func (c *commonFlags) register(fs *flag.FlagSet, e *envErrors, natsDefault string) {
	fs.StringVar(&c.natsURL, "nats-url", env("nats-url", natsDefault), "NATS server or cluster URL(s), comma-separated")
	fs.StringVar(&c.logLevel, "log-level", env("log-level", "info"), "log level: debug, info, warn, error")
	fs.StringVar(&c.logFormat, "log-format", env("log-format", "console"), "log format: console or json")
	fs.IntVar(&c.broker.Replicas, "replicas", e.int("replicas", 1), "replicas of every stream and bucket (3 in a cluster)")
	fs.DurationVar(&c.broker.Retention, "retention", e.duration("retention", 24*time.Hour), "how long export files are kept (at least 1h)")
	fs.DurationVar(&c.broker.EventMaxAge, "event-max-age", e.duration("event-max-age", 30*24*time.Hour), "how long the job event log keeps events")
	fs.IntVar(&c.history, "fhir-history", e.int("fhir-history", 8), "versions of each record kept: an export reads records as of its start while they change fewer times than this during it")
}

func (c *commonFlags) brokerConfig() broker.Config {
	b := c.broker
	b.FHIRHistory = uint8(min(max(c.history, 0), 255))
	return b
}

func (c *commonFlags) logger(w io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(c.logLevel)
	if err != nil {
		return zerolog.Logger{}, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	if c.logFormat == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: w != os.Stderr}
	} else if c.logFormat != "json" {
		return zerolog.Logger{}, fmt.Errorf("--log-format %q: want console or json", c.logFormat)
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}

func registerGateway(fs *flag.FlagSet, e *envErrors, cfg *gateway.Config, http *string) {
	fs.StringVar(http, "http", env("http", "127.0.0.1:8080"), "HTTP listen address of the gateway")
	fs.StringVar(&cfg.PublicURL, "public-url", env("public-url", ""), "base URL clients reach the gateway at, for absolute links (default http://<--http>)")
	fs.IntVar(&cfg.RateLimit, "rate-limit", e.int("rate-limit", 120), "requests per --rate-window per API key")
	fs.DurationVar(&cfg.RateWindow, "rate-window", e.duration("rate-window", time.Minute), "rate limit window")
	fs.DurationVar(&cfg.URLTTL, "url-ttl", e.duration("url-ttl", time.Hour), "lifetime of signed download URLs")
	fs.BoolVar(&cfg.FHIR.RequiresAccessToken, "fhir-files-require-token", e.bool("fhir-files-require-token", false),
		"FHIR $export file URLs also need the caller's bearer token or API key (the manifest's requiresAccessToken)")
	fs.DurationVar(&cfg.FHIR.MinPollInterval, "fhir-min-poll-interval", e.duration("fhir-min-poll-interval", time.Second),
		"least time between two polls of a $export status URL; faster polls answer 429 with Retry-After")
	fs.DurationVar(&cfg.FHIR.SMART.TokenTTL, "token-ttl", e.duration("token-ttl", 5*time.Minute),
		"lifetime of SMART Backend Services access tokens")
	fs.IntVar(&cfg.MaxActiveExports, "max-active-exports", e.int("max-active-exports", gateway.DefaultMaxActiveExports), "exports one tenant may have pending or processing at once; more are answered 429")
}

// exporterFlags are the exporter's flags.
type exporterFlags struct {
	cfg exporter.Config
	mb  int
}

func (x *exporterFlags) register(fs *flag.FlagSet, e *envErrors) {
	fs.StringVar(&x.cfg.WorkerID, "worker-id", env("worker-id", ""), "worker name in events (default host-pid)")
	fs.IntVar(&x.cfg.Concurrency, "export-concurrency", e.int("export-concurrency", 1), "jobs one exporter process runs at once")
	fs.IntVar(&x.cfg.PartMaxResources, "part-max-resources", e.int("part-max-resources", 100_000), "resources per NDJSON part")
	fs.IntVar(&x.mb, "part-max-mb", e.int("part-max-mb", 64), "MiB per NDJSON part")
	fs.DurationVar(&x.cfg.AckWait, "ack-wait", e.duration("ack-wait", 30*time.Second), "how long a silent worker keeps a job before another takes it over")
	fs.IntVar(&x.cfg.MaxAttempts, "max-attempts", e.int("max-attempts", 5), "attempts before a job fails")
	fs.Int64Var(&x.cfg.TaskResources, "task-resources", int64(e.int("task-resources", 2_000_000)), "how an export is cut into tasks: its types are grouped into tasks of about this many records (a larger type is a task of its own), each one pass over the records; smaller spreads one export over more exporters at the price of more reading")
	fs.IntVar(&x.cfg.JobTasks, "job-tasks", e.int("job-tasks", 2), "tasks of one export queued or running at once: how many workers one export may hold; another export waits for one of them to end")
	fs.DurationVar(&x.cfg.StuckAfter, "stuck-after", e.duration("stuck-after", 5*time.Minute), "how long a task may read nothing before it is given up as stuck and retried (or failed on its last attempt)")
	fs.DurationVar(&x.cfg.RetentionCheck, "retention-check", e.duration("retention-check", time.Minute), "how often the exporter looks for jobs whose files passed --retention")
}

func (x *exporterFlags) config(stderr io.Writer) exporter.Config {
	c := x.cfg
	c.PartMaxBytes = int64(x.mb) << 20
	c.Pause = pauseHook(os.Getenv("JETEXPORT_TEST_PAUSE_AT"), stderr)
	return c
}

// pauseHook reads JETEXPORT_TEST_PAUSE_AT=<point>:<n>[:<hold>], a test-only
// setting: the n-th time the exporter reaches point, it says so on stderr
// and stops there, for good (so that a crash test can SIGKILL it at that
// point) or, given a hold duration, for that long (alive but making no
// progress, as a hung source would), then goes on.
func pauseHook(spec string, stderr io.Writer) func(string) {
	parts := strings.Split(spec, ":")
	if spec == "" || len(parts) < 2 || len(parts) > 3 {
		return nil
	}
	point := parts[0]
	n, err := strconv.Atoi(parts[1])
	if err != nil || n < 1 {
		return nil
	}
	var hold time.Duration
	if len(parts) == 3 {
		if hold, err = time.ParseDuration(parts[2]); err != nil || hold <= 0 {
			return nil
		}
	}
	var seen atomic.Int64
	return func(p string) {
		if p != point || seen.Add(1) != int64(n) {
			return
		}
		if hold == 0 {
			fmt.Fprintf(stderr, "jetexport: paused at %s:%d\n", point, n)
			select {}
		}
		fmt.Fprintf(stderr, "jetexport: paused at %s:%d for %s\n", point, n, hold)
		time.Sleep(hold)
		fmt.Fprintf(stderr, "jetexport: resumed at %s:%d\n", point, n)
	}
}

func servicesConfig(c commonFlags, log zerolog.Logger, out io.Writer) app.Config {
	return app.Config{NATSURL: c.natsURL, Broker: c.brokerConfig(), Log: log, Out: out}
}
