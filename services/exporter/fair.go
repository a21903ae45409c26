package exporter

import (
	"context"

	"github.com/jetexport/jetexport/events"
)

// Fairness across jobs, and so across tenants, comes from the order of the
// shared task queue rather than from a scheduler: a job never has more
// than Config.JobTasks tasks queued or running. The planner queues the
// first JobTasks of a job's types; each task that finishes queues the next
// one, which joins the queue behind every task other jobs queued
// meanwhile. A big export therefore holds at most JobTasks workers, and a
// small export requested while it runs waits for one of its tasks to end,
// not for all of them.
//
// The count is read from the job's own events (queued and not finished),
// not kept in memory, so it survives crashes and redeliveries: a task
// redelivered after its type finished tops the job up again, and two tasks
// finishing at once pick the same next type in the same order, which the
// Nats-Msg-Id of ExportTaskQueued stores once.

// topUp queues the job's next types until JobTasks of its tasks are in
// flight. st must be what the log says now.
func (x *Exporter) topUp(ctx context.Context, t events.Tenant, jobID string, st *jobState) error {
	if st.terminal() || st.cancel != nil || st.req == nil || st.started == nil {
		return nil
	}
	types := jobTypes(st.req)
	inFlight := 0
	for _, typ := range types {
		if st.queued[typ] && !st.finished[typ] {
			inFlight++
		}
	}
	for i, typ := range types {
		if inFlight >= x.cfg.JobTasks {
			return nil
		}
		if st.queued[typ] || st.finished[typ] {
			continue
		}
		task := &events.ExportTaskQueued{ResourceType: typ, Index: i + 1, Of: len(types)}
		if err := x.publish(ctx, t, jobID, task, typ); err != nil {
			return err
		}
		st.queued[typ] = true
		inFlight++
	}
	return nil
}
