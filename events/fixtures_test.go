package events_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jetexport/jetexport/events"
)

// Fixed names and times, so golden files and fold results never change.
const (
	testTenant = events.Tenant("acme_test")
	testJobID  = "job_01JPB7XZ5K3M9Q2R4T6V8W0Y1A"
)

// t0 is the time of the first event of every fixture job.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// at returns t0 plus n seconds.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

func ptr[T any](v T) *T { return &v }

// sampleEvent returns a fully populated event of kind k: every envelope and
// payload field is set (a bool without omitempty may be false, it is written
// either way), so its golden file pins every field name.
func sampleEvent(k events.Kind) events.Event {
	var p events.Payload
	switch k {
	case events.KindRequested:
		p = &events.ExportRequested{
			ResourceTypes: []string{"Patient", "Encounter", "Observation"},
			Since:         ptr(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)),
			Until:         ptr(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)),
			Level:         events.LevelGroup,
			GroupID:       "grp-cardiology",
			Patients:      []string{"Patient/p-1", "Patient/p-2"},
			TypeFilters:   []string{"Observation?status=final"},
			Elements:      []string{"id", "meta", "status"},
			OutputFormat:  "application/fhir+ndjson",
			Door:          "fhir",
			RequestURL:    "http://127.0.0.1:8080/fhir/Group/grp-cardiology/$export?_type=Patient,Encounter,Observation",
			Requester:     "key_01JPB7W1AAAAAAAAAAAAAAAAAA",
			WebhookURL:    "https://hooks.example.com/jetexport",
			Lenient:       true,
		}
	case events.KindStarted:
		p = &events.ExportStarted{
			WorkerID:        "exporter-1",
			Attempt:         2,
			TransactionTime: at(1),
			SnapshotSeq:     38473,
			Totals:          map[string]int64{"Patient": 100, "Encounter": 5400, "Observation": 32973},
			Tasks:           [][]string{{"Observation"}, {"Encounter", "Patient"}},
		}
	case events.KindChunk:
		p = &events.ChunkWritten{
			ResourceType: "Observation",
			Part:         3,
			Object:       events.ObjectName(testTenant, testJobID, "Observation", 3),
			Resources:    10000,
			Bytes:        12582912,
			SHA256:       "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Cursor:       31007,
			Scanned:      30412,
			Last:         true,
		}
	case events.KindCompleted:
		p = &events.ExportCompleted{
			TransactionTime: at(1),
			Files: []events.File{
				{ResourceType: "Patient", Part: 1, Object: events.ObjectName(testTenant, testJobID, "Patient", 1),
					Count: 100, Bytes: 512000, SHA256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"},
				{ResourceType: "Encounter", Part: 1, Object: events.ObjectName(testTenant, testJobID, "Encounter", 1),
					Count: 5400, Bytes: 6912000, SHA256: "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"},
			},
			Resources: 5500,
			Bytes:     7424000,
		}
	case events.KindFailed:
		p = &events.ExportFailed{
			Code:     "store_unavailable",
			Message:  "the clinical store could not be read after 5 attempts; retry the export",
			Attempts: 5,
		}
	case events.KindCancel:
		p = &events.ExportCancelRequested{By: "key_01JPB7W1AAAAAAAAAAAAAAAAAA"}
	case events.KindCancelled:
		p = &events.ExportCancelled{By: "key_01JPB7W1AAAAAAAAAAAAAAAAAA", PartsRemoved: 4}
	case events.KindExpired:
		p = &events.ExportExpired{ObjectsRemoved: 7}
	case events.KindTask:
		p = &events.ExportTaskQueued{ResourceType: "Encounter", ResourceTypes: []string{"Encounter", "Patient"}, Index: 2, Of: 2}
	case events.KindTaskDone:
		p = &events.ExportTaskFinished{
			ResourceType: "Observation",
			Parts:        4,
			Resources:    32973,
			Bytes:        42205440,
			WorkerID:     "exporter-2",
		}
	case events.KindWebhook:
		p = &events.WebhookAttempted{
			Subscription: "whs_01JPB7W2BBBBBBBBBBBBBBBBBB",
			URL:          "https://hooks.example.com/jetexport",
			DeliveryID:   "msg_01JPB7W3CCCCCCCCCCCCCCCCCC",
			Event:        "export.completed",
			Attempt:      2,
			StatusCode:   503,
			Error:        "receiver answered 503 Service Unavailable",
			NextAttempt:  ptr(at(300)),
			Delivered:    false,
			Final:        false,
		}
	default:
		panic(fmt.Sprintf("sampleEvent: no sample for kind %q", k))
	}
	n := sampleNumber[k]
	return events.New(fmt.Sprintf("01JPB7Y%019d", n), at(n), testTenant, testJobID, p)
}

// sampleNumber gives each kind's sample its own id and time. It is fixed
// per kind, not taken from the order of events.Kinds(), so adding a kind
// leaves the other golden files as they are: append new kinds here.
var sampleNumber = map[events.Kind]int{
	events.KindRequested: 0,
	events.KindStarted:   1,
	events.KindChunk:     2,
	events.KindCompleted: 3,
	events.KindFailed:    4,
	events.KindCancel:    5,
	events.KindCancelled: 6,
	events.KindExpired:   7,
	events.KindWebhook:   8,
	events.KindTask:      9,
	events.KindTaskDone:  10,
}

// mustJSON marshals v or fails the test.
func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("marshal %T: %v", v, err)
	}
	return b
}
