package events_test

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/jetexport/jetexport/events"
)

// envelope returns the JSON of an ExportCancelRequested event with the
// envelope fields of fields replaced (a nil value removes the field), for
// building malformed inputs one defect at a time.
func envelope(tb testing.TB, fields map[string]any) []byte {
	tb.Helper()
	m := map[string]any{}
	if err := json.Unmarshal(mustJSON(tb, sampleEvent(events.KindCancel)), &m); err != nil {
		tb.Fatal(err)
	}
	for k, v := range fields {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return mustJSON(tb, m)
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		wantMsg string // a part of the error message that says what is wrong
	}{
		{name: "empty input", in: nil, wantMsg: "unexpected end of JSON input"},
		{name: "not JSON", in: []byte("requested"), wantMsg: "invalid character"},
		{name: "JSON array", in: []byte(`[1,2]`), wantMsg: "cannot unmarshal array"},
		{name: "JSON string", in: []byte(`"ExportRequested"`), wantMsg: "cannot unmarshal string"},
		{name: "truncated", in: mustJSON(t, sampleEvent(events.KindStarted))[:40], wantMsg: "unexpected end of JSON input"},
		{name: "unknown type", in: envelope(t, map[string]any{"type": "ExportPaused"}), wantMsg: `unknown type "ExportPaused"`},
		{name: "kind instead of type name", in: envelope(t, map[string]any{"type": "cancel"}), wantMsg: `unknown type "cancel"`},
		{name: "missing type", in: envelope(t, map[string]any{"type": nil}), wantMsg: `unknown type ""`},
		{name: "version 0", in: envelope(t, map[string]any{"version": 0}), wantMsg: "version 0 not supported"},
		{name: "missing version", in: envelope(t, map[string]any{"version": nil}), wantMsg: "version 0 not supported"},
		{name: "negative version", in: envelope(t, map[string]any{"version": -1}), wantMsg: "version -1 not supported"},
		{name: "version from the future", in: envelope(t, map[string]any{"version": events.Version + 1}),
			wantMsg: "version " + strconv.Itoa(events.Version+1) + " not supported"},
		{name: "version not a number", in: envelope(t, map[string]any{"version": "1"}), wantMsg: "cannot unmarshal string"},
		{name: "missing tenant", in: envelope(t, map[string]any{"tenant": nil}), wantMsg: "tenant"},
		{name: "empty tenant", in: envelope(t, map[string]any{"tenant": ""}), wantMsg: "tenant"},
		{name: "tenant without mode", in: envelope(t, map[string]any{"tenant": "acme"}), wantMsg: "tenant"},
		{name: "tenant with unknown mode", in: envelope(t, map[string]any{"tenant": "acme_prod"}), wantMsg: "tenant"},
		{name: "tenant with subject wildcard", in: envelope(t, map[string]any{"tenant": "acme.>_test"}), wantMsg: "tenant"},
		{name: "missing job id", in: envelope(t, map[string]any{"jobId": nil}), wantMsg: "job id"},
		{name: "empty job id", in: envelope(t, map[string]any{"jobId": ""}), wantMsg: "job id"},
		{name: "time not RFC 3339", in: envelope(t, map[string]any{"time": "14/03/2025"}), wantMsg: "cannot parse"},
		{name: "missing payload", in: envelope(t, map[string]any{"data": nil}), wantMsg: "ExportCancelRequested payload"},
		{name: "payload not an object", in: envelope(t, map[string]any{"data": "cancel"}), wantMsg: "ExportCancelRequested payload"},
		{name: "payload field of the wrong type", in: envelope(t, map[string]any{"data": map[string]any{"by": 7}}),
			wantMsg: "ExportCancelRequested payload"},
		{name: "payload of another type", in: envelope(t, map[string]any{"type": "ChunkWritten", "data": map[string]any{"part": "one"}}),
			wantMsg: "ChunkWritten payload"},
		{name: "negative count into unsigned field", in: envelope(t, map[string]any{"type": "ChunkWritten", "data": map[string]any{"cursor": -1}}),
			wantMsg: "ChunkWritten payload"},
		{name: "null payload", in: envelope(t, map[string]any{"data": json.RawMessage("null")}), wantMsg: "ExportCancelRequested payload"},
		// A job id must be one subject token, or Event.Subject() is wrong for it.
		{name: "job id with a subject separator", in: envelope(t, map[string]any{"jobId": "job_1.requested"}), wantMsg: "job id"},
		{name: "job id with a wildcard", in: envelope(t, map[string]any{"jobId": "job_>"}), wantMsg: "job id"},
		{name: "job id not a ULID", in: envelope(t, map[string]any{"jobId": "job_1"}), wantMsg: "job id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := events.Decode(tt.in)
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("Decode(%s) = %+v, %v; want ErrInvalid", tt.in, ev, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			if diff := cmp.Diff(events.Event{}, ev); diff != "" {
				t.Errorf("Decode returned a partial event on error:\n%s", diff)
			}
		})
	}
}

// TestDecodeAccepts covers inputs that are valid although they differ from
// what this version writes: readers must accept what older and newer
// writers of the same version produce.
func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{name: "unknown envelope field", in: envelope(t, map[string]any{"traceId": "abc"})},
		{name: "unknown payload field", in: envelope(t, map[string]any{"data": map[string]any{"by": "key_1", "reason": "user"}})},
		{name: "empty payload object", in: envelope(t, map[string]any{"data": map[string]any{}})},
		{name: "time with an offset", in: envelope(t, map[string]any{"time": "2025-03-14T10:26:53+01:00"})},
		{name: "live tenant", in: envelope(t, map[string]any{"tenant": "acme-health_live"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := events.Decode(tt.in)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if ev.Kind() != events.KindCancel || ev.Version != events.Version {
				t.Errorf("decoded kind %q version %d", ev.Kind(), ev.Version)
			}
		})
	}
}

func TestMarshalWithoutPayload(t *testing.T) {
	e := sampleEvent(events.KindRequested)
	e.Data = nil
	if _, err := json.Marshal(e); err == nil || !strings.Contains(err.Error(), "no payload") {
		t.Errorf("marshal of an event without payload: err %v, want one that says no payload", err)
	}
}

// FuzzDecode feeds Decode arbitrary bytes: it must never panic, must fail
// only with ErrInvalid, and an event it accepts must survive a
// marshal/decode round trip and a fold unchanged in meaning.
func FuzzDecode(f *testing.F) {
	for _, k := range events.Kinds() {
		b, err := os.ReadFile(goldenPath(k))
		if err != nil {
			f.Fatalf("seed corpus: %v", err)
		}
		f.Add(b)
	}
	for _, s := range []string{"", "{}", "null", `{"type":"ExportRequested","version":1,"tenant":"a_test","jobId":"j","data":null}`,
		`{"type":"ChunkWritten","version":1,"tenant":"a_live","jobId":"j","data":{"part":-1,"cursor":18446744073709551615}}`,
		`{"type":"WebhookAttempted","version":1,"tenant":"a_test","jobId":"j","time":"0001-01-01T00:00:00-23:59","data":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := events.Decode(b)
		if err != nil {
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("Decode error %v is not ErrInvalid", err)
			}
			return
		}
		if ev.Data == nil || ev.Kind().Type() != ev.Type {
			t.Fatalf("decoded event type %q has payload %T", ev.Type, ev.Data)
		}
		again, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("marshal of a decoded event: %v", err)
		}
		ev2, err := events.Decode(again)
		if err != nil {
			t.Fatalf("decode of a re-marshalled event: %v\n%s", err, again)
		}
		// omitempty drops an empty map or list: it comes back nil.
		if diff := cmp.Diff(ev, ev2, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip changed the event (-first +second):\n%s", diff)
		}
		// Folding whatever Decode accepts must not panic either, into an
		// empty job or, addressed to it, a live one.
		ev.Seq = 7
		events.Apply(events.Job{}, ev)
		job := events.Apply(events.Job{}, sampleEvent(events.KindRequested))
		ev.Tenant, ev.JobID = testTenant, testJobID
		if got := events.Apply(job, ev).LastSeq; got != 7 {
			t.Fatalf("fold of seq 7 left LastSeq %d", got)
		}
	})
}

// A task recorded before tasks had several types is its one type.
func TestTaskTypesOfOlderEvents(t *testing.T) {
	for _, tc := range []struct {
		name string
		json string
		want []string
	}{
		{"one type, before resourceTypes", `{"resourceType":"Patient","index":1,"of":9}`, []string{"Patient"}},
		{"several types", `{"resourceType":"Patient","resourceTypes":["Patient","Condition"],"index":1,"of":1}`, []string{"Patient", "Condition"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var task events.ExportTaskQueued
			if err := json.Unmarshal([]byte(tc.json), &task); err != nil {
				t.Fatal(err)
			}
			if got := task.Types(); !slices.Equal(got, tc.want) {
				t.Errorf("Types() = %v, want %v", got, tc.want)
			}
		})
	}
}
