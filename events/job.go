package events

import (
	"maps"
	"slices"
	"time"
)

// Status is where a job is in its life.
type Status string

// The job statuses. Completed, failed, cancelled and expired are terminal,
// except that a completed job can still be cancelled (its files discarded) or
// expire.
const (
	StatusPending    Status = "pending"
	StatusProcessing Status = "processing"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
	StatusCancelled  Status = "cancelled"
	StatusExpired    Status = "expired"
)

// Terminal reports whether no worker will act on a job in status s again.
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCancelled || s == StatusExpired
}

// Job is the read model of one export job: the fold of its events. The
// projector keeps one per job in [BucketJobs]; the gateways only read it.
type Job struct {
	ID              string           `json:"jobId"`
	Tenant          Tenant           `json:"tenant"`
	Status          Status           `json:"status"`
	Request         ExportRequested  `json:"request"`
	CreatedAt       time.Time        `json:"createdAt"`
	StartedAt       *time.Time       `json:"startedAt,omitempty"`
	CompletedAt     *time.Time       `json:"completedAt,omitempty"`
	EndedAt         *time.Time       `json:"endedAt,omitempty"`
	TransactionTime *time.Time       `json:"transactionTime,omitempty"`
	Attempt         int              `json:"attempt,omitempty"`
	WorkerID        string           `json:"workerId,omitempty"`
	SnapshotSeq     uint64           `json:"snapshotSeq,omitempty"`
	Totals          map[string]int64 `json:"totals,omitempty"`
	Scanned         map[string]int64 `json:"scanned,omitempty"`
	Files           []File           `json:"files,omitempty"`
	Resources       int64            `json:"resources"`
	Bytes           int64            `json:"bytes"`
	Error           *ExportFailed    `json:"error,omitempty"`
	CancelledBy     string           `json:"cancelledBy,omitempty"`
	Webhooks        []Delivery       `json:"webhooks,omitempty"`
	// LastSeq is the stream sequence of the last event folded in; events at
	// or below it are already part of the document.
	LastSeq   uint64    `json:"lastSeq"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// DeliveryStatus is the state of one webhook delivery.
type DeliveryStatus string

// The webhook delivery states.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryRetrying  DeliveryStatus = "retrying"
	DeliveryFailed    DeliveryStatus = "failed"
)

// Delivery is the state of one webhook delivery of a job, folded from its
// [WebhookAttempted] events.
type Delivery struct {
	DeliveryID   string         `json:"deliveryId"`
	Subscription string         `json:"subscription"`
	URL          string         `json:"url"`
	Event        string         `json:"event"`
	Status       DeliveryStatus `json:"status"`
	Attempts     int            `json:"attempts"`
	LastStatus   int            `json:"lastStatusCode,omitempty"`
	LastError    string         `json:"lastError,omitempty"`
	NextAttempt  *time.Time     `json:"nextAttempt,omitempty"`
	UpdatedAt    time.Time      `json:"updatedAt"`
}

// Percent returns how far the export is, from 0 to 100, and whether it is
// known: it is the share of the snapshot's records scanned so far.
func (j Job) Percent() (float64, bool) {
	if j.Status == StatusCompleted {
		return 100, true
	}
	var total, scanned int64
	for typ, n := range j.Totals {
		total += n
		scanned += min(j.Scanned[typ], n)
	}
	if j.Totals == nil {
		return 0, false
	}
	if total == 0 {
		return 0, true
	}
	return float64(scanned) * 100 / float64(total), true
}

// Apply folds one event into job and returns the new job; job itself is not
// changed. Apply is idempotent by stream sequence: an event whose Seq is not
// above job.LastSeq is already folded in and changes nothing. Events that
// arrive for a job in a state they cannot change (a chunk after a
// cancellation, a second request for the same id) are absorbed without effect
// other than advancing LastSeq.
func Apply(job Job, e Event) Job {
	if e.Data == nil || (e.Seq != 0 && e.Seq <= job.LastSeq) {
		return job
	}
	if job.ID == "" && e.Kind() != KindRequested {
		// An event of a job whose request is unknown (its requested event was
		// removed by the stream's limits): nothing to attach it to.
		return job
	}
	if job.ID != "" && (e.JobID != job.ID || e.Tenant != job.Tenant) {
		return job // another job's event: never fold it into this document
	}
	j := job.clone()
	if e.Seq != 0 {
		j.LastSeq = e.Seq
	}
	// Each case returns early when the event takes no effect, so UpdatedAt
	// moves only when the job changes.
	switch p := e.Data.(type) {
	case *ExportRequested:
		if job.ID != "" {
			return j
		}
		j.ID, j.Tenant, j.Status, j.CreatedAt = e.JobID, e.Tenant, StatusPending, e.Time
		j.Request = *p
	case *ExportStarted:
		if j.Status != StatusPending && j.Status != StatusProcessing {
			return j
		}
		j.Status = StatusProcessing
		if j.StartedAt == nil {
			j.StartedAt = timePtr(e.Time)
		}
		j.Attempt, j.WorkerID, j.SnapshotSeq = p.Attempt, p.WorkerID, p.SnapshotSeq
		j.TransactionTime = timePtr(p.TransactionTime)
		if p.Totals != nil {
			j.Totals = maps.Clone(p.Totals)
		}
	case *ChunkWritten:
		if j.Status.Terminal() {
			return j
		}
		j.addFile(File{ResourceType: p.ResourceType, Part: p.Part, Object: p.Object,
			Count: p.Resources, Bytes: p.Bytes, SHA256: p.SHA256})
		if j.Scanned == nil {
			j.Scanned = map[string]int64{}
		}
		j.Scanned[p.ResourceType] = max(j.Scanned[p.ResourceType], p.Scanned)
	case *ExportCompleted:
		if j.Status.Terminal() {
			return j
		}
		j.Status = StatusCompleted
		j.CompletedAt, j.EndedAt = timePtr(e.Time), timePtr(e.Time)
		j.TransactionTime = timePtr(p.TransactionTime)
		j.Files = slices.Clone(p.Files)
		j.sumFiles()
	case *ExportFailed:
		if j.Status.Terminal() {
			return j
		}
		j.Status, j.EndedAt = StatusFailed, timePtr(e.Time)
		failed := *p
		j.Error = &failed
	case *ExportCancelRequested:
		if j.Status == StatusCancelled || j.Status == StatusExpired || j.Status == StatusFailed {
			return j
		}
		j.Status, j.EndedAt, j.CancelledBy = StatusCancelled, timePtr(e.Time), p.By
	case *ExportCancelled:
		if j.Status == StatusExpired || j.Status == StatusFailed {
			return j
		}
		j.Status, j.CancelledBy = StatusCancelled, p.By
		if j.EndedAt == nil {
			j.EndedAt = timePtr(e.Time)
		}
		j.Files = nil
	case *ExportExpired:
		if j.Status != StatusCompleted && j.Status != StatusFailed {
			return j
		}
		j.Status = StatusExpired
	case *WebhookAttempted:
		if !j.recordDelivery(e.Time, p) {
			return j
		}
	case *ExportTaskQueued:
		return j // work queued: nothing a reader of the job sees changes
	case *ExportTaskFinished:
		// The type is done: its share of the percent is complete even when
		// its last records were filtered out and wrote no part.
		total, ok := j.Totals[p.ResourceType]
		if j.Status.Terminal() || !ok || j.Scanned[p.ResourceType] >= total {
			return j
		}
		if j.Scanned == nil {
			j.Scanned = map[string]int64{}
		}
		j.Scanned[p.ResourceType] = total
	}
	j.UpdatedAt = e.Time
	return j
}

// addFile adds a stored part, replacing an earlier record of the same part: a
// part written again after a crash replaces its object under the same name.
func (j *Job) addFile(f File) {
	i := slices.IndexFunc(j.Files, func(g File) bool {
		return g.ResourceType == f.ResourceType && g.Part == f.Part
	})
	if i >= 0 {
		j.Files[i] = f
	} else {
		j.Files = append(j.Files, f)
	}
	j.sumFiles()
}

func (j *Job) sumFiles() {
	j.Resources, j.Bytes = 0, 0
	for _, f := range j.Files {
		j.Resources += f.Count
		j.Bytes += f.Bytes
	}
}

// recordDelivery folds one webhook attempt and reports whether it changed
// the job.
func (j *Job) recordDelivery(at time.Time, p *WebhookAttempted) bool {
	i := slices.IndexFunc(j.Webhooks, func(d Delivery) bool { return d.DeliveryID == p.DeliveryID })
	if i >= 0 {
		d := j.Webhooks[i]
		if d.Status == DeliveryDelivered || d.Status == DeliveryFailed || p.Attempt < d.Attempts {
			return false // a late or repeated record of an attempt already superseded
		}
	} else {
		j.Webhooks = append(j.Webhooks, Delivery{DeliveryID: p.DeliveryID})
		i = len(j.Webhooks) - 1
	}
	d := &j.Webhooks[i]
	d.Subscription, d.URL, d.Event = p.Subscription, p.URL, p.Event
	if p.Attempt == 0 { // queued, not tried yet
		if d.Attempts > 0 || d.Status != "" {
			return false
		}
		d.Status, d.UpdatedAt = DeliveryPending, at
		return true
	}
	d.Attempts, d.LastStatus, d.LastError, d.UpdatedAt = p.Attempt, p.StatusCode, p.Error, at
	d.NextAttempt = nil
	switch {
	case p.Delivered:
		d.Status = DeliveryDelivered
	case p.Final:
		d.Status = DeliveryFailed
	default:
		d.Status = DeliveryRetrying
		if p.NextAttempt != nil {
			d.NextAttempt = timePtr(*p.NextAttempt)
		}
	}
	return true
}

// clone returns a copy of j that shares no slice or map with it.
func (j Job) clone() Job {
	c := j
	c.Request.ResourceTypes = slices.Clone(j.Request.ResourceTypes)
	c.Totals = maps.Clone(j.Totals)
	c.Scanned = maps.Clone(j.Scanned)
	c.Files = slices.Clone(j.Files)
	c.Webhooks = slices.Clone(j.Webhooks)
	return c
}

func timePtr(t time.Time) *time.Time { t = t.UTC(); return &t }
