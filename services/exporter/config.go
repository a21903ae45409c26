package exporter

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// Config tunes an exporter. Zero fields take the defaults of [Config.withDefaults].
type Config struct {
	// WorkerID names this worker in ExportStarted events (default hostname-pid).
	WorkerID string
	// Concurrency is how many jobs this process runs at once (default 1).
	Concurrency int
	// PartMaxResources and PartMaxBytes roll an NDJSON part (default
	// 100,000 resources, 64 MiB): whichever comes first.
	PartMaxResources int
	PartMaxBytes     int64
	// AckWait is how long a job's message may go without a heartbeat before
	// JetStream hands it to another worker (default 30s). Workers heartbeat
	// every AckWait/3.
	AckWait time.Duration
	// MaxAttempts bounds the deliveries of one job (default 5); the job then
	// fails with the last error.
	MaxAttempts int
	// RetryDelay is the first delay before a failed attempt is retried; it
	// doubles per attempt up to a minute (default 2s).
	RetryDelay time.Duration
	// TaskResources is about how many records one task reads (default
	// 2,000,000): a job's types are grouped into tasks of at most this many
	// records (a larger type is a task of its own), each read in one pass
	// over the records stream. A job larger than it is split into tasks
	// that several workers run at once; every task is a pass, so smaller
	// tasks spread one export wider at the price of more reading.
	TaskResources int64
	// JobTasks is how many of one job's tasks may be queued or running at
	// once (default 2). Up to this many workers
	// share one export; a task of another job waits for at most one of
	// them to end. Set it to the total of workers (exporter processes times
	// Concurrency) for the fastest single export, lower to leave room for
	// other tenants' exports.
	JobTasks int
	// Durable names the shared consumer (default "exporter").
	Durable string
	// StuckAfter is how long a task may read nothing before its worker
	// gives it up as stuck and hands it back for another attempt (default
	// 5 minutes).
	StuckAfter time.Duration
	// RetentionCheck is how often the exporter looks for jobs whose files
	// have passed the retention (default 1 minute).
	RetentionCheck time.Duration
	// Pause, for crash tests only, is called at named points of the work,
	// from several goroutines at once (a task's types are written in
	// parallel):
	// "record" (each record read), "part-stored" (a part is in the object
	// store, its ChunkWritten not yet published), "part-recorded" (after
	// ChunkWritten), "before-complete" (every type finished, the manifest
	// not yet published). A test makes it block and kills the process there.
	Pause func(point string)
}

func (c Config) withDefaults() Config {
	if c.WorkerID == "" {
		host, _ := os.Hostname()
		c.WorkerID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if c.Concurrency == 0 {
		c.Concurrency = 1
	}
	if c.PartMaxResources == 0 {
		c.PartMaxResources = 100_000
	}
	if c.PartMaxBytes == 0 {
		c.PartMaxBytes = 64 << 20
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 5
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = 2 * time.Second
	}
	if c.JobTasks == 0 {
		c.JobTasks = 2
	}
	if c.TaskResources == 0 {
		c.TaskResources = 2_000_000
	}
	if c.Durable == "" {
		c.Durable = "exporter"
	}
	if c.StuckAfter == 0 {
		c.StuckAfter = 5 * time.Minute
	}
	if c.RetentionCheck == 0 {
		c.RetentionCheck = time.Minute
	}
	if c.Pause == nil {
		c.Pause = func(string) {}
	}
	return c
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Concurrency < 0 {
		errs = append(errs, errors.New("concurrency must not be negative"))
	}
	if c.PartMaxResources < 0 {
		errs = append(errs, errors.New("part max resources must not be negative"))
	}
	if c.PartMaxBytes < 0 || (c.PartMaxBytes > 0 && c.PartMaxBytes < 1024) {
		errs = append(errs, errors.New("part max bytes must be at least 1 KiB"))
	}
	if c.AckWait != 0 && c.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("ack wait %s: want at least 1s", c.AckWait))
	}
	if c.StuckAfter < 0 || c.RetentionCheck < 0 {
		errs = append(errs, errors.New("stuck-after and retention check must not be negative"))
	}
	if c.JobTasks < 0 {
		errs = append(errs, errors.New("job tasks must not be negative"))
	}
	if c.TaskResources < 0 {
		errs = append(errs, errors.New("task resources must not be negative"))
	}
	if c.MaxAttempts < 0 {
		errs = append(errs, errors.New("max attempts must not be negative"))
	}
	return errors.Join(errs...)
}
