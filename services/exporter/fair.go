package exporter

import (
	"cmp"
	"context"
	"slices"

	"github.com/jetexport/jetexport/events"
)

// A job's work is cut into tasks at plan time: its types that have records,
// grouped (groupTypes) so that each task reads at most about
// Config.TaskResources records, in one pass. The plan is recorded in
// ExportStarted.Tasks, so every worker follows the same plan whatever its
// own settings.
//
// Fairness across jobs, and so across tenants, comes from the order of the
// shared task queue rather than from a scheduler: a job never has more
// than Config.JobTasks tasks queued or running. The planner queues the
// first JobTasks of a job's tasks; each task that finishes queues the next
// one, which joins the queue behind every task other jobs queued
// meanwhile. A big export therefore holds at most JobTasks workers, and a
// small export requested while it runs waits for one of its tasks to end,
// not for all of them.
//
// The count is read from the job's own events (queued and not finished),
// not kept in memory, so it survives crashes and redeliveries: a task
// redelivered after its types finished tops the job up again, and two tasks
// finishing at once pick the same next task in the same order, which the
// Nats-Msg-Id of ExportTaskQueued stores once.

// groupTypes packs the types that have records into tasks of at most limit
// records and maxTaskTypes types, first fit by decreasing size, so that a
// job has few tasks (each is a pass over the records) and the largest come
// first. A type larger than limit is a task of its own. Within a task the
// types keep the job's order.
func groupTypes(types []string, totals map[string]int64, limit int64) [][]string {
	order := map[string]int{}
	var sized []string
	for i, typ := range types {
		if _, dup := order[typ]; dup || totals[typ] == 0 {
			continue
		}
		order[typ] = i
		sized = append(sized, typ)
	}
	slices.SortStableFunc(sized, func(a, b string) int { return cmp.Compare(totals[b], totals[a]) })
	type bin struct {
		types []string
		sum   int64
	}
	var bins []bin
	for _, typ := range sized {
		n := totals[typ]
		i := slices.IndexFunc(bins, func(b bin) bool { return b.sum+n <= limit && len(b.types) < maxTaskTypes })
		if i < 0 {
			bins, i = append(bins, bin{}), len(bins)
		}
		bins[i].types = append(bins[i].types, typ)
		bins[i].sum += n
	}
	var tasks [][]string
	for _, b := range bins {
		slices.SortFunc(b.types, func(x, y string) int { return cmp.Compare(order[x], order[y]) })
		tasks = append(tasks, b.types)
	}
	return tasks
}

// plannedTasks returns the job's tasks: its recorded plan, or one task per
// type for a job started before plans were recorded.
func plannedTasks(st *jobState) [][]string {
	if len(st.started.Tasks) > 0 {
		return st.started.Tasks
	}
	var tasks [][]string
	for _, typ := range jobTypes(st.req) {
		tasks = append(tasks, []string{typ})
	}
	return tasks
}

// topUp queues the job's next tasks until JobTasks of them are in flight.
// st must be what the log says now.
func (x *Exporter) topUp(ctx context.Context, t events.Tenant, jobID string, st *jobState) error {
	if st.terminal() || st.cancel != nil || st.req == nil || st.started == nil {
		return nil
	}
	tasks := plannedTasks(st)
	queued := func(task []string) bool { return st.queued[task[0]] }
	finished := func(task []string) bool {
		return !slices.ContainsFunc(task, func(typ string) bool { return !st.finished[typ] })
	}
	inFlight := 0
	for _, task := range tasks {
		if queued(task) && !finished(task) {
			inFlight++
		}
	}
	for i, task := range tasks {
		if inFlight >= x.cfg.JobTasks {
			return nil
		}
		if queued(task) || finished(task) {
			continue
		}
		q := &events.ExportTaskQueued{ResourceType: task[0], ResourceTypes: task, Index: i + 1, Of: len(tasks)}
		if err := x.publish(ctx, t, jobID, q, task[0]); err != nil {
			return err
		}
		for _, typ := range task {
			st.queued[typ] = true
		}
		inFlight++
	}
	return nil
}
