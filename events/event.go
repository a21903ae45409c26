package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Version is the schema version every event carries. A reader accepts any
// version up to its own: fields are only ever added.
const Version = 1

// Kind names an event type; it is also the last token of the event's subject.
type Kind string

// The event kinds of the log.
const (
	KindRequested Kind = "requested"
	KindStarted   Kind = "started"
	KindChunk     Kind = "chunk"
	KindCompleted Kind = "completed"
	KindFailed    Kind = "failed"
	KindCancel    Kind = "cancel"
	KindCancelled Kind = "cancelled"
	KindExpired   Kind = "expired"
	KindWebhook   Kind = "webhook"
	KindTask      Kind = "task"
	KindTaskDone  Kind = "taskdone"
)

// Type returns the event type name written in the envelope, such as "ExportStarted".
func (k Kind) Type() string { return typeNames[k] }

var typeNames = map[Kind]string{
	KindRequested: "ExportRequested",
	KindStarted:   "ExportStarted",
	KindChunk:     "ChunkWritten",
	KindCompleted: "ExportCompleted",
	KindFailed:    "ExportFailed",
	KindCancel:    "ExportCancelRequested",
	KindCancelled: "ExportCancelled",
	KindExpired:   "ExportExpired",
	KindWebhook:   "WebhookAttempted",
	KindTask:      "ExportTaskQueued",
	KindTaskDone:  "ExportTaskFinished",
}

// Kinds lists every event kind, in the order of a job's life.
func Kinds() []Kind {
	return []Kind{KindRequested, KindStarted, KindTask, KindChunk, KindTaskDone, KindCompleted,
		KindFailed, KindCancel, KindCancelled, KindExpired, KindWebhook}
}

// ErrInvalid is returned by [Decode] for a message that is not a valid event.
var ErrInvalid = errors.New("invalid event")

// Event is one entry of the log: the envelope and its typed payload, which is
// one of the pointer types [ExportRequested], [ExportStarted],
// [ExportTaskQueued], [ChunkWritten], [ExportTaskFinished], [ExportCompleted],
// [ExportFailed], [ExportCancelRequested], [ExportCancelled], [ExportExpired]
// or [WebhookAttempted].
//
// Seq is the stream sequence the event was stored at; it is not part of the
// JSON and is set by whoever reads the event from the stream.
type Event struct {
	Type    string    `json:"type"`
	Version int       `json:"version"`
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Tenant  Tenant    `json:"tenant"`
	JobID   string    `json:"jobId"`
	Data    Payload   `json:"-"`
	Seq     uint64    `json:"-"`
}

// Payload is implemented by every event payload type.
type Payload interface {
	Kind() Kind
}

// Kind returns the kind of e, from its payload.
func (e Event) Kind() Kind { return e.Data.Kind() }

// Subject returns the subject e is published on.
func (e Event) Subject() string { return Subject(e.Tenant, e.JobID, e.Kind()) }

// New builds an event envelope around data. The id must be unique per event;
// callers pass a ULID or the de-duplication id.
func New(id string, at time.Time, t Tenant, jobID string, data Payload) Event {
	return Event{Type: data.Kind().Type(), Version: Version, ID: id, Time: at.UTC(),
		Tenant: t, JobID: jobID, Data: data}
}

// MsgID returns the JetStream de-duplication id of an event: <jobId>/<kind>
// for events a job has once, and <jobId>/<kind>/<part> for repeated ones, so
// that a re-published event (a crashed worker redoing its last step) is
// dropped by the server.
func MsgID(jobID string, kind Kind, part string) string {
	if part == "" {
		return jobID + "/" + string(kind)
	}
	return jobID + "/" + string(kind) + "/" + part
}

type wire struct {
	Type    string          `json:"type"`
	Version int             `json:"version"`
	ID      string          `json:"id"`
	Time    time.Time       `json:"time"`
	Tenant  Tenant          `json:"tenant"`
	JobID   string          `json:"jobId"`
	Data    json.RawMessage `json:"data"`
}

// MarshalJSON writes the envelope with the payload under "data".
func (e Event) MarshalJSON() ([]byte, error) {
	if e.Data == nil {
		return nil, fmt.Errorf("marshal event %s: no payload", e.ID)
	}
	data, err := json.Marshal(e.Data)
	if err != nil {
		return nil, fmt.Errorf("marshal %s payload: %w", e.Type, err)
	}
	return json.Marshal(wire{Type: e.Type, Version: e.Version, ID: e.ID, Time: e.Time,
		Tenant: e.Tenant, JobID: e.JobID, Data: data})
}

// Decode parses an event from its JSON. Unknown types, versions newer than
// [Version] and envelopes missing their tenant or job id are [ErrInvalid].
func Decode(b []byte) (Event, error) {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if w.Version < 1 || w.Version > Version {
		return Event{}, fmt.Errorf("%w: version %d not supported (up to %d)", ErrInvalid, w.Version, Version)
	}
	if !w.Tenant.Valid() {
		return Event{}, fmt.Errorf("%w: tenant %q is not <customer>_<test|live>", ErrInvalid, w.Tenant)
	}
	if !ValidJobID(w.JobID) {
		return Event{}, fmt.Errorf("%w: job id %q is not job_<ULID>", ErrInvalid, w.JobID)
	}
	if len(w.Data) == 0 || string(w.Data) == "null" {
		return Event{}, fmt.Errorf("%w: %s payload is missing", ErrInvalid, w.Type)
	}
	p := newPayload(w.Type)
	if p == nil {
		return Event{}, fmt.Errorf("%w: unknown type %q", ErrInvalid, w.Type)
	}
	if err := json.Unmarshal(w.Data, p); err != nil {
		return Event{}, fmt.Errorf("%w: %s payload: %v", ErrInvalid, w.Type, err)
	}
	return Event{Type: w.Type, Version: w.Version, ID: w.ID, Time: w.Time,
		Tenant: w.Tenant, JobID: w.JobID, Data: p}, nil
}

func newPayload(typ string) Payload {
	switch typ {
	case "ExportRequested":
		return &ExportRequested{}
	case "ExportStarted":
		return &ExportStarted{}
	case "ChunkWritten":
		return &ChunkWritten{}
	case "ExportCompleted":
		return &ExportCompleted{}
	case "ExportFailed":
		return &ExportFailed{}
	case "ExportCancelRequested":
		return &ExportCancelRequested{}
	case "ExportCancelled":
		return &ExportCancelled{}
	case "ExportExpired":
		return &ExportExpired{}
	case "WebhookAttempted":
		return &WebhookAttempted{}
	case "ExportTaskQueued":
		return &ExportTaskQueued{}
	case "ExportTaskFinished":
		return &ExportTaskFinished{}
	}
	return nil
}
