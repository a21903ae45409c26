package webhooks

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/events"
)

func TestParseCreate(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    CreateRequest
		wantErr string
	}{
		{name: "full", body: `{"url":" https://example.com/h ","events":["export.completed","export.failed"],"description":"ops"}`,
			want: CreateRequest{URL: "https://example.com/h", Events: []string{EventCompleted, EventFailed}, Description: "ops"}},
		{name: "no description", body: `{"url":"https://example.com/h","events":["export.expired"]}`,
			want: CreateRequest{URL: "https://example.com/h", Events: []string{EventExpired}}},
		{name: "empty body", body: ``, wantErr: "body: is empty"},
		{name: "not json", body: `url=x`, wantErr: "body: is not valid JSON"},
		{name: "array", body: `[]`, wantErr: "body: must be a JSON object"},
		{name: "two objects", body: `{"url":"https://e.com","events":["export.failed"]} {}`, wantErr: "single JSON object"},
		{name: "unknown field", body: `{"url":"https://e.com","event":["export.failed"]}`, wantErr: `unknown field "event"`},
		{name: "events not a list", body: `{"url":"https://e.com","events":"export.failed"}`, wantErr: `field "events" must be a JSON array`},
		{name: "missing url", body: `{"events":["export.failed"]}`, wantErr: "url: is required"},
		{name: "missing events", body: `{"url":"https://e.com"}`, wantErr: "events: is required"},
		{name: "unknown event", body: `{"url":"https://e.com","events":["export.done"]}`, wantErr: `events: unknown event "export.done"`},
		{name: "all problems at once", body: `{"events":["x"],"description":"` + strings.Repeat("d", MaxDescription+1) + `"}`,
			wantErr: `url: is required: the https URL to POST deliveries to; events: unknown event "x"; want one or more of export.completed, export.failed, export.cancelled, export.expired; description: is 257 characters; at most 256`},
		{name: "too big", body: `{"url":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, wantErr: "body: is 16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCreate([]byte(tc.body))
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseCreate = %v, want ErrInvalid containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("ParseCreate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRotate(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantGrace string
		wantErr   string
	}{
		{name: "empty body", body: "", wantGrace: "24h0m0s"},
		{name: "empty object", body: "{}", wantGrace: "24h0m0s"},
		{name: "one hour", body: `{"gracePeriodSeconds":3600}`, wantGrace: "1h0m0s"},
		{name: "retire at once", body: `{"gracePeriodSeconds":0}`, wantGrace: "0s"},
		{name: "negative", body: `{"gracePeriodSeconds":-1}`, wantErr: "out of range"},
		{name: "over a week", body: `{"gracePeriodSeconds":604801}`, wantErr: "out of range"},
		{name: "string", body: `{"gracePeriodSeconds":"1h"}`, wantErr: `must be a JSON integer`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRotate([]byte(tc.body))
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseRotate = %v, want ErrInvalid containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got.grace().String() != tc.wantGrace {
				t.Fatalf("ParseRotate = grace %s, %v; want %s", got.grace(), err, tc.wantGrace)
			}
		})
	}
}

func TestEventType(t *testing.T) {
	for _, k := range events.Kinds() {
		typ, ok := EventType(k)
		terminal := k == events.KindCompleted || k == events.KindFailed || k == events.KindCancelled || k == events.KindExpired
		if ok != terminal || (ok && !strings.HasPrefix(typ, "export.")) {
			t.Errorf("EventType(%s) = %q, %v", k, typ, ok)
		}
	}
}

// FuzzParseCreate: request bodies come from API clients; parsing must not
// panic, must fail only with ErrInvalid, and what it accepts is complete.
func FuzzParseCreate(f *testing.F) {
	for _, s := range []string{`{"url":"https://e.com","events":["export.completed"]}`, `{}`, `[]`, `null`, `{"url":1}`,
		`{"url":"x","events":[null]}`, `{"description":"\ud800"}`, "\xff", `{"url":"a"}{"url":"b"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseCreate(body)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if req.URL == "" || len(req.Events) == 0 {
			t.Fatalf("accepted incomplete %q", body)
		}
		if _, err := ParseRotate(body); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("ParseRotate error %v is not ErrInvalid", err)
		}
	})
}
