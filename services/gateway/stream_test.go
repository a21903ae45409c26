package gateway_test

import (
	"bytes"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/services/gateway"
)

// TestDownloadStreams shows downloads are streamed: the heap a download
// needs does not grow with the size of the export. (In this process the
// embedded NATS server's block cache counts too, so the growth is compared
// between two sizes rather than held to an absolute bound.)
func TestDownloadStreams(t *testing.T) {
	if testing.Short() || raceEnabled {
		// Under the race detector it takes ten times as long, and its
		// instrumentation is not what this measures.
		t.Skip("moves 160 MiB through the object store")
	}
	h := newHarness(t, gateway.Config{}, nil)
	plain, key := h.key("acme", events.ModeTest)
	line := append(bytes.Repeat([]byte("x"), 1023), '\n')
	growth := func(parts, partMiB int) (int64, int64) {
		t.Helper()
		id := job(t, h.startExport(plain, `{"resourceTypes":["Observation"]}`), 202).JobID
		ps := make([]part, parts)
		for i := range ps {
			ps[i] = part{"Observation", i + 1, bytes.Repeat(line, partMiB<<10)}
		}
		h.complete(key.Tenant, id, ps)
		ps = nil
		url := job(t, h.do(request{method: "GET", path: "/v1/bulk/jobs/" + id, key: plain}), 200).DownloadURL
		var n int64
		g := peakHeapGrowth(t, func() {
			resp, err := h.client.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if n, err = io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("download: status %d after %d bytes: %v", resp.StatusCode, n, err)
			}
		})
		if n != int64(parts*partMiB)<<20 {
			t.Fatalf("downloaded %d bytes, want %d MiB", n, parts*partMiB)
		}
		return g, n
	}
	small, smallN := growth(1, 32)
	large, largeN := growth(4, 32)
	t.Logf("heap growth: %.1f MiB for %d MiB, %.1f MiB for %d MiB",
		float64(small)/(1<<20), smallN>>20, float64(large)/(1<<20), largeN>>20)
	if extra := large - small; extra > (largeN-smallN)/4 {
		t.Errorf("streaming %d MiB more took %d MiB more heap: the download is buffered, not streamed",
			(largeN-smallN)>>20, extra>>20)
	}
}

// peakHeapGrowth runs f and returns how far the heap in use rose above
// where it was before.
func peakHeapGrowth(tb testing.TB, f func()) int64 {
	tb.Helper()
	// Collect often, so that the heap in use is mostly live data rather
	// than garbage waiting for the next cycle.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	f()
	close(stop)
	<-stopped
	return int64(peak.Load()) - int64(base.HeapInuse)
}
