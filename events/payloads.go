package events

import "time"

// Level is the scope of an export: every record of the tenant, the Patient
// compartments of all (or some) patients, or those of a Group's members.
type Level string

// The export levels of the FHIR Bulk Data IG.
const (
	LevelSystem  Level = "system"
	LevelPatient Level = "patient"
	LevelGroup   Level = "group"
)

// ExportRequested creates a job. The gateway publishes it, and waits for the
// stream's ack, before it hands out the job id.
type ExportRequested struct {
	ResourceTypes []string   `json:"resourceTypes"`
	Since         *time.Time `json:"since,omitempty"`
	Until         *time.Time `json:"until,omitempty"`
	Level         Level      `json:"level"`
	GroupID       string     `json:"groupId,omitempty"`
	Patients      []string   `json:"patients,omitempty"`
	TypeFilters   []string   `json:"typeFilters,omitempty"`
	Elements      []string   `json:"elements,omitempty"`
	OutputFormat  string     `json:"outputFormat,omitempty"`
	// Door is the API the job came through: "rest" (/v1) or "fhir" ($export).
	Door       string `json:"door"`
	RequestURL string `json:"requestUrl"`
	// Requester is the API key id or the SMART client id that asked.
	Requester  string `json:"requester"`
	WebhookURL string `json:"webhookUrl,omitempty"`
	// Lenient records Prefer: handling=lenient (unsupported filters ignored).
	Lenient bool `json:"lenient,omitempty"`
}

// ExportStarted says a worker took the job (again, on a later attempt).
type ExportStarted struct {
	WorkerID        string    `json:"workerId"`
	Attempt         int       `json:"attempt"`
	TransactionTime time.Time `json:"transactionTime"`
	// SnapshotSeq is the last sequence of the clinical records stream when the
	// export began: records stored after it are not part of the export.
	SnapshotSeq uint64 `json:"snapshotSeq"`
	// Totals counts the records of each type present at the snapshot, before
	// filters; it is what a progress percent divides by.
	Totals map[string]int64 `json:"totals,omitempty"`
	// Tasks is the plan: the job's types that have records, grouped into
	// the tasks that export them, each task one pass over the records. The
	// first attempt fixes it, and every worker follows it. Absent in events
	// written before plans were recorded: then every type is a task.
	Tasks [][]string `json:"tasks,omitempty"`
}

// ExportTaskQueued is one unit of an export's work: the records of one or
// more resource types, read in one pass. The worker that plans a job
// queues the tasks of its plan (ExportStarted.Tasks), and any exporter
// replica takes one, so the tasks of one export run in parallel.
type ExportTaskQueued struct {
	// ResourceType is the task's first type, which names it.
	ResourceType string `json:"resourceType"`
	// ResourceTypes are all the types of the task, ResourceType first.
	// Absent in events written before tasks had several types: then the
	// task is ResourceType alone.
	ResourceTypes []string `json:"resourceTypes,omitempty"`
	// Index and Of place the task among the job's tasks (1-based).
	Index int `json:"index"`
	Of    int `json:"of"`
}

// Types returns the types the task exports.
func (t *ExportTaskQueued) Types() []string {
	if len(t.ResourceTypes) == 0 {
		return []string{t.ResourceType}
	}
	return t.ResourceTypes
}

// ExportTaskFinished says every part of one resource type is stored; the
// job completes when each of its types has one.
type ExportTaskFinished struct {
	ResourceType string `json:"resourceType"`
	Parts        int    `json:"parts"`
	Resources    int64  `json:"resources"`
	Bytes        int64  `json:"bytes"`
	WorkerID     string `json:"workerId"`
}

// ChunkWritten says one NDJSON part is stored in the object store under Object.
type ChunkWritten struct {
	ResourceType string `json:"resourceType"`
	Part         int    `json:"part"`
	Object       string `json:"object"`
	Resources    int64  `json:"resources"`
	Bytes        int64  `json:"bytes"`
	SHA256       string `json:"sha256"`
	// Cursor is the source stream sequence of the part's last record: a
	// resumed export continues after it.
	Cursor uint64 `json:"cursor"`
	// Scanned counts the records of this type read so far, written or
	// filtered out, for the progress percent.
	Scanned int64 `json:"scanned"`
	// Last marks the final part of its type.
	Last bool `json:"last,omitempty"`
}

// File is one output file of a finished export, in manifest order.
type File struct {
	ResourceType string `json:"resourceType"`
	Part         int    `json:"part"`
	Object       string `json:"object"`
	Count        int64  `json:"count"`
	Bytes        int64  `json:"bytes"`
	SHA256       string `json:"sha256"`
}

// ExportCompleted carries the manifest of a finished export.
type ExportCompleted struct {
	TransactionTime time.Time `json:"transactionTime"`
	Files           []File    `json:"files"`
	Resources       int64     `json:"resources"`
	Bytes           int64     `json:"bytes"`
}

// ExportFailed ends a job that cannot succeed.
type ExportFailed struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Attempts int    `json:"attempts"`
}

// ExportCancelRequested records a client's request to cancel a job.
type ExportCancelRequested struct {
	By string `json:"by"`
}

// ExportCancelled says a cancelled job's parts are removed.
type ExportCancelled struct {
	By           string `json:"by"`
	PartsRemoved int    `json:"partsRemoved"`
}

// ExportExpired says a job's files passed their retention and are removed.
type ExportExpired struct {
	ObjectsRemoved int `json:"objectsRemoved"`
}

// WebhookAttempted records one attempt to deliver a job's webhook. Attempt
// 0 records that the delivery is queued and not yet tried.
type WebhookAttempted struct {
	Subscription string     `json:"subscription"`
	URL          string     `json:"url"`
	DeliveryID   string     `json:"deliveryId"`
	Event        string     `json:"event"`
	Attempt      int        `json:"attempt"`
	StatusCode   int        `json:"statusCode,omitempty"`
	Error        string     `json:"error,omitempty"`
	NextAttempt  *time.Time `json:"nextAttempt,omitempty"`
	// Delivered is true when the receiver answered 2xx.
	Delivered bool `json:"delivered"`
	// Final is true when no further attempt will be made.
	Final bool `json:"final"`
}

// Kind implements [Payload].
func (*ExportRequested) Kind() Kind { return KindRequested }

// Kind implements [Payload].
func (*ExportStarted) Kind() Kind { return KindStarted }

// Kind implements [Payload].
func (*ChunkWritten) Kind() Kind { return KindChunk }

// Kind implements [Payload].
func (*ExportCompleted) Kind() Kind { return KindCompleted }

// Kind implements [Payload].
func (*ExportFailed) Kind() Kind { return KindFailed }

// Kind implements [Payload].
func (*ExportCancelRequested) Kind() Kind { return KindCancel }

// Kind implements [Payload].
func (*ExportCancelled) Kind() Kind { return KindCancelled }

// Kind implements [Payload].
func (*ExportExpired) Kind() Kind { return KindExpired }

// Kind implements [Payload].
func (*WebhookAttempted) Kind() Kind { return KindWebhook }

// Kind implements [Payload].
func (*ExportTaskQueued) Kind() Kind { return KindTask }

// Kind implements [Payload].
func (*ExportTaskFinished) Kind() Kind { return KindTaskDone }
