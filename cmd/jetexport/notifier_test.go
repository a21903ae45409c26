package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
	"github.com/jetexport/jetexport/internal/webhooks"
)

// TestNotifierCommand runs `jetexport notifier` against a separate NATS
// server and sees a job's webhook delivered.
func TestNotifierCommand(t *testing.T) {
	url := natstest.Server(t)
	_, js := natstest.Connect(t, url)
	ctx := context.Background()
	assets, err := broker.Setup(ctx, js, broker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan http.Header, 1)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.Header.Clone():
		default:
		}
	}))
	t.Cleanup(rc.Close)
	tenant := events.TenantOf("acme", events.ModeTest)
	store := webhooks.NewStore(assets.Webhooks, webhooks.StoreConfig{Policy: webhooks.Policy{AllowPrivate: true}})
	_, err = store.Create(ctx, tenant, webhooks.CreateRequest{URL: rc.URL, Events: []string{webhooks.EventFailed}})
	if err != nil {
		t.Fatal(err)
	}
	startCmd(t, "notifier", "--nats-url", url, "--webhook-allow-private", "--webhook-schedule", "50ms", "--log-format", "json")

	jobID := "job_" + ulid.Make().String()
	for _, p := range []events.Payload{&events.ExportRequested{ResourceTypes: []string{"Patient"}}, &events.ExportFailed{Code: "x", Message: "y"}} {
		id := events.MsgID(jobID, p.Kind(), "")
		if _, err := broker.Publish(ctx, js, events.New(id, time.Now(), tenant, jobID, p), id); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case h := <-got:
		if h.Get(webhooks.HeaderSignature) == "" || !strings.HasPrefix(h.Get(webhooks.HeaderID), "msg_") {
			t.Fatalf("delivery headers %v", h)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery within 10s")
	}
}

func TestNotifierCommandFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "bad schedule", args: []string{"--webhook-schedule", "5s,soon"}, want: "want positive durations"},
		{name: "bad config", args: []string{"--webhook-max-concurrent", "1000", "--webhook-timeout", "-1s"}, want: "max concurrent"},
		{name: "bad public url", args: []string{"--public-url", "example.com"}, want: "public url"},
		{name: "stray argument", args: []string{"extra"}, want: `unexpected argument "extra"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), append([]string{"notifier", "--nats-url", "nats://127.0.0.1:1"}, tc.args...), &out, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("notifier = %v, want %q", err, tc.want)
			}
		})
	}
}
