package exporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
