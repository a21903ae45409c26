package notifier

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/webhooks"
)

// fanoutRetry is the wait before a fan-out that could not read or store
// what it needs is tried again.
const fanoutRetry = 2 * time.Second

// fanout turns one terminal job event into a delivery task per destination:
// each subscription of the tenant to the event type, and the job's one-off
// webhookUrl. The tasks' de-duplication ids make a repeated fan-out (after
// a crash before the ack) store nothing twice.
func (n *Notifier) fanout(ctx context.Context, msg jetstream.Msg) {
	ev, err := broker.DecodeMsg(msg)
	if err != nil {
		n.log.Error().Err(err).Str("subject", msg.Subject()).Msg("undecodable job event; dropped")
		if err := msg.Term(); err != nil {
			n.log.Warn().Err(err).Msg("term failed")
		}
		return
	}
	log := n.log.With().Str("tenant", string(ev.Tenant)).Str("job_id", ev.JobID).Uint64("stream_seq", ev.Seq).Logger()
	typ, ok := webhooks.EventType(ev.Kind())
	if !ok {
		_ = msg.Ack()
		return
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	tasks, err := n.tasks(ctx, ev, typ)
	if err != nil {
		log.Warn().Err(err).Msg("fan-out failed; retrying")
		n.nak(msg, fanoutRetry)
		return
	}
	for _, tk := range tasks {
		if err := enqueue(ctx, n.assets.JS, tk); err != nil {
			log.Warn().Err(err).Msg("fan-out failed; retrying")
			n.nak(msg, fanoutRetry)
			return
		}
		if err := n.recordQueued(ctx, tk); err != nil {
			log.Warn().Err(err).Msg("fan-out failed; retrying")
			n.nak(msg, fanoutRetry)
			return
		}
		log.Debug().Str("delivery_id", tk.DeliveryID).Str("subscription", tk.Subscription).Str("event", typ).Msg("delivery queued")
	}
	if err := msg.DoubleAck(ctx); err != nil {
		log.Warn().Err(err).Msg("ack failed; the event will be fanned out again, without duplicates")
	}
}

// tasks lists the first attempt of every delivery ev calls for.
func (n *Notifier) tasks(ctx context.Context, ev events.Event, typ string) ([]task, error) {
	subs, err := n.store.Matching(ctx, ev.Tenant, typ)
	if err != nil {
		return nil, err
	}
	mk := func(sub, url string) task {
		return task{DeliveryID: deliveryID(ev, sub), Tenant: ev.Tenant, JobID: ev.JobID, Event: typ,
			EventSeq: ev.Seq, EventTime: ev.Time, Subscription: sub, URL: url, Attempt: 1}
	}
	var out []task
	for _, s := range subs {
		out = append(out, mk(s.ID, s.URL))
	}
	req, err := broker.LastEvent(ctx, n.assets.Stream, ev.Tenant, ev.JobID, events.KindRequested)
	switch {
	case errors.Is(err, broker.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		if r, ok := req.Data.(*events.ExportRequested); ok && r.WebhookURL != "" {
			out = append(out, mk(OneOff, r.WebhookURL))
		}
	}
	return out, nil
}

// recordQueued puts the delivery on the job as pending (attempt 0) until
// its first attempt is recorded.
func (n *Notifier) recordQueued(ctx context.Context, tk task) error {
	ev := &events.WebhookAttempted{Subscription: tk.Subscription, URL: tk.URL, DeliveryID: tk.DeliveryID, Event: tk.Event}
	msgID := events.MsgID(tk.JobID, events.KindWebhook, tk.DeliveryID+".0")
	_, err := broker.Publish(ctx, n.assets.JS, events.New(msgID, n.now(), tk.Tenant, tk.JobID, ev), msgID)
	return err
}
