package gateway

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
)

// BenchmarkActiveExports measures the count a kick-off makes, for a tenant
// with 1,000 finished jobs in the log (8 event subjects each, as a
// completed job with a webhook has) and 3 running.
func BenchmarkActiveExports(b *testing.B) {
	a := natstest.Assets(b, broker.Config{})
	t := events.TenantOf("acme", events.ModeTest)
	ctx := context.Background()
	finished := []events.Payload{&events.ExportRequested{ResourceTypes: []string{"Patient"}},
		&events.ExportStarted{WorkerID: "w"}, &events.ExportTaskQueued{ResourceType: "Patient"},
		&events.ChunkWritten{ResourceType: "Patient", Part: 1}, &events.ExportTaskFinished{ResourceType: "Patient"},
		&events.ExportCompleted{}, &events.WebhookAttempted{Attempt: 1}, &events.ExportExpired{}}
	publish := func(n int, payloads []events.Payload) {
		for range n {
			id := "job_" + ulid.Make().String()
			for _, p := range payloads {
				ev := events.New(ulid.Make().String(), time.Now(), t, id, p)
				data, err := json.Marshal(ev)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := a.JS.PublishAsync(ev.Subject(), data); err != nil {
					b.Fatal(err)
				}
			}
		}
		<-a.JS.PublishAsyncComplete()
	}
	publish(1000, finished)
	publish(3, finished[:2])
	b.ResetTimer()
	for b.Loop() {
		n, last, err := activeExports(ctx, a.JS, a.Stream, t)
		if err != nil || n != 3 || last == 0 {
			b.Fatalf("activeExports = %d, %d, %v; want 3 running", n, last, err)
		}
	}
}
