package exporter_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
	"github.com/jetexport/jetexport/internal/synthetic"
	"github.com/jetexport/jetexport/services/exporter"
)

// BenchmarkExport exports 200,000 synthetic resources of about 1 KiB with
// the server, the exporter and the projector in one process. The figure
// that counts for the target is `jetexport bench` (separate processes);
// this one is for profiling: go test -bench Export -cpuprofile cpu.out.
func BenchmarkExport(b *testing.B) {
	const n = 200_000
	a := natstest.Assets(b, broker.Config{})
	types := map[string]bool{}
	var size int64
	err := synthetic.StreamResources(1, n, func(r synthetic.Resource) error {
		types[r.Type] = true
		size += int64(len(r.JSON))
		_, err := a.JS.PublishAsync("$KV."+events.BucketFHIR+"."+events.RecordKey(tenant, r.Type, r.ID), r.JSON)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	<-a.JS.PublishAsyncComplete()
	var list []string
	for t := range types {
		list = append(list, t)
	}
	system(b, a, exporter.Config{})
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		id := request(b, a, &events.ExportRequested{ResourceTypes: list})
		natstest.Eventually(b, 5*time.Minute, "export never completed", func() bool {
			_, err := broker.LastEvent(context.Background(), a.Stream, tenant, id, events.KindCompleted)
			return err == nil
		})
		b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "resources/s")
		if testing.Verbose() {
			evs, _ := broker.JobEvents(context.Background(), a.JS, tenant, id)
			for _, ev := range evs {
				detail := ""
				switch p := ev.Data.(type) {
				case *events.ChunkWritten:
					detail = p.ResourceType + " " + p.Object
				case *events.ExportTaskQueued:
					detail = strings.Join(p.Types(), ",")
				case *events.ExportTaskFinished:
					detail = p.ResourceType
				}
				b.Logf("%8.3fs %-20s %s", ev.Time.Sub(t0).Seconds(), ev.Type, detail)
			}
		}
	}
}
