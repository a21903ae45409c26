package exporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
)

// sweep expires, every RetentionCheck, the jobs whose files have outlived
// the retention: it removes their objects and records ExportExpired. The
// object store's own TTL is the same retention, so this mostly records what
// the store already dropped; every replica sweeps, and the event's Msg-Id
// makes a job expire once.
func (x *Exporter) sweep(ctx context.Context) {
	t := time.NewTicker(x.cfg.RetentionCheck)
	defer t.Stop()
	for {
		if err := x.expireDue(ctx); err != nil && ctx.Err() == nil {
			x.log.Warn().Err(err).Msg("retention sweep")
		}
		if err := x.sweepOrphanChunks(ctx); err != nil && ctx.Err() == nil {
			x.log.Warn().Err(err).Msg("orphan chunk sweep")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (x *Exporter) expireDue(ctx context.Context) error {
	keys, err := x.a.Jobs.ListKeys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil
		}
		return fmt.Errorf("list jobs: %w", err)
	}
	now := x.now()
	for key := range keys.Keys() {
		entry, err := x.a.Jobs.Get(ctx, key)
		if err != nil {
			continue // deleted meanwhile
		}
		var j events.Job
		if err := json.Unmarshal(entry.Value(), &j); err != nil {
			continue
		}
		if (j.Status != events.StatusCompleted && j.Status != events.StatusFailed) || j.EndedAt == nil ||
			now.Sub(*j.EndedAt) < x.a.Config.Retention {
			continue
		}
		n, err := x.removeObjects(ctx, j.Tenant, j.ID)
		if err != nil {
			return err
		}
		if err := x.publish(ctx, j.Tenant, j.ID, &events.ExportExpired{ObjectsRemoved: n}, ""); err != nil {
			return err
		}
		x.log.Info().Str("tenant", string(j.Tenant)).Str("job_id", j.ID).Int("objects_removed", n).Msg("export expired")
	}
	return nil
}

// sweepOrphanChunks removes the chunks of parts whose write never finished
// (a worker killed in the middle of one): chunk sets no object references
// and that have had no new chunk for StuckAfter. A write still in progress
// adds chunks all the time, and one silent for that long is given up by its
// own worker's watchdog anyway.
func (x *Exporter) sweepOrphanChunks(ctx context.Context) error {
	infos, err := x.a.Exports.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return fmt.Errorf("list objects: %w", err)
	}
	used := make(map[string]bool, len(infos))
	for _, info := range infos {
		used[info.NUID] = true
	}
	str, err := x.js.Stream(ctx, "OBJ_"+events.ObjectStoreExports)
	if err != nil {
		return err
	}
	const chunks = "$O." + events.ObjectStoreExports + ".C."
	info, err := str.Info(ctx, jetstream.WithSubjectFilter(chunks+">"))
	if err != nil {
		return fmt.Errorf("list chunks: %w", err)
	}
	for subj := range info.State.Subjects {
		if used[strings.TrimPrefix(subj, chunks)] {
			continue
		}
		last, err := str.GetLastMsgForSubject(ctx, subj)
		if err != nil || x.now().Sub(last.Time) < x.cfg.StuckAfter {
			continue
		}
		if err := str.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
			return fmt.Errorf("purge %s: %w", subj, err)
		}
		x.log.Info().Str("subject", subj).Msg("removed the chunks of an unfinished part")
	}
	return nil
}
