package bench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
)

// Work is what the job's own events say about who did its work: read from
// the log after the export completed, not from the exporters' word.
type Work struct {
	// Tasks counts the tasks (ExportTaskQueued) each worker id ran, and
	// Types the resource types it finished, from ExportTaskFinished.WorkerID.
	Tasks, Types map[string]int
	// Resources counts the resources each worker exported, from the same events.
	Resources map[string]int64
	// ChunkEvents is how many ChunkWritten the log holds; Parts how many
	// distinct (type, part) they name. Equal when no part was recorded twice.
	ChunkEvents, Parts int
	// Twice lists the parts recorded more than once, as Type.n.
	Twice []string
}

// tally reads every event of one job and counts its work.
func tally(ctx context.Context, js jetstream.JetStream, t events.Tenant, jobID string) (Work, error) {
	evs, err := broker.JobEvents(ctx, js, t, jobID)
	if err != nil {
		return Work{}, err
	}
	return count(evs), nil
}

func count(evs []events.Event) Work {
	w := Work{Tasks: map[string]int{}, Types: map[string]int{}, Resources: map[string]int64{}}
	parts := map[string]int{}
	var tasks [][]string
	finishedBy := map[string]string{}
	for _, ev := range evs {
		switch p := ev.Data.(type) {
		case *events.ExportTaskQueued:
			tasks = append(tasks, p.Types())
		case *events.ExportTaskFinished:
			finishedBy[p.ResourceType] = p.WorkerID
			w.Types[p.WorkerID]++
			w.Resources[p.WorkerID] += p.Resources
		case *events.ChunkWritten:
			w.ChunkEvents++
			parts[fmt.Sprintf("%s.%d", p.ResourceType, p.Part)]++
		}
	}
	for _, task := range tasks {
		if by, ok := finishedBy[task[0]]; ok {
			w.Tasks[by]++
		}
	}
	w.Parts = len(parts)
	for _, part := range slices.Sorted(maps.Keys(parts)) {
		if parts[part] > 1 {
			w.Twice = append(w.Twice, part)
		}
	}
	return w
}

// check fails when a part was recorded twice.
func (w Work) check() error {
	if len(w.Twice) > 0 {
		return fmt.Errorf("parts recorded more than once: %s", strings.Join(w.Twice, ", "))
	}
	return nil
}

// printWork prints, under a run's figures, how its types and tasks were
// shared between the exporter processes.
func printWork(out io.Writer, r Result) {
	var types []string
	for _, typ := range slices.Sorted(maps.Keys(r.Types)) {
		types = append(types, fmt.Sprintf("%s=%d", typ, r.Types[typ]))
	}
	var workers []string
	for _, id := range slices.Sorted(maps.Keys(r.Work.Types)) {
		workers = append(workers, fmt.Sprintf("%s %d tasks (%d types) %d resources", id, r.Work.Tasks[id], r.Work.Types[id], r.Work.Resources[id]))
	}
	fmt.Fprintf(out, "  types: %s\n  work per exporter: %s\n  ChunkWritten events %d for %d distinct parts: %d recorded twice\n",
		strings.Join(types, " "), strings.Join(workers, "; "), r.Work.ChunkEvents, r.Work.Parts, len(r.Work.Twice))
}
