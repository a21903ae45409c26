package notifier

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
)

// Names of the notifier's JetStream assets, a contract once shipped like
// those in package events.
const (
	// StreamDeliveries is the work queue of delivery tasks: one message per
	// pending attempt, removed when it is acknowledged.
	StreamDeliveries = "DELIVERIES"
	// ConsumerEvents is the durable consumer on the terminal events of BULK.
	ConsumerEvents = "notifier"
	// ConsumerDeliveries is the durable consumer on StreamDeliveries.
	ConsumerDeliveries = "notifier-deliveries"
	// OneOff is the subscription recorded for a delivery to the webhookUrl
	// named in the export's kick-off body.
	OneOff = "webhookUrl"

	deliveriesRoot = "deliveries"
	// eventsAckWait is how long a fan-out may take before the event is
	// offered again.
	eventsAckWait = 30 * time.Second
	// dedupWindow must outlast a redelivery of the message that published
	// a task, so the task is not stored twice.
	dedupWindow = 10 * time.Minute
)

// task is one attempt to deliver one job event to one destination.
type task struct {
	DeliveryID string        `json:"deliveryId"`
	Tenant     events.Tenant `json:"tenant"`
	JobID      string        `json:"jobId"`
	// Event is the webhook event type, such as "export.completed".
	Event string `json:"event"`
	// EventSeq is the BULK sequence of the job event being delivered.
	EventSeq  uint64    `json:"eventSeq"`
	EventTime time.Time `json:"eventTime"`
	// Subscription is the subscription id, or OneOff.
	Subscription string `json:"subscription"`
	// URL is the destination when the task was made; a subscription's
	// current URL is read again at each attempt.
	URL       string    `json:"url"`
	Attempt   int       `json:"attempt"`
	NotBefore time.Time `json:"notBefore,omitzero"`
}

// deliveryID is the webhook-id of a delivery: derived from the job event
// and the destination, so a fan-out done twice makes the same tasks.
func deliveryID(ev events.Event, subscription string) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%d/%s", ev.Tenant, ev.JobID, ev.Seq, subscription)))
	return "msg_" + hex.EncodeToString(sum[:14])
}

func (tk task) subject() string {
	return fmt.Sprintf("%s.%s.%s.%s", deliveriesRoot, tk.Tenant, tk.JobID, tk.DeliveryID)
}

// msgID de-duplicates the task of one attempt.
func (tk task) msgID() string { return tk.DeliveryID + "." + strconv.Itoa(tk.Attempt) }

// enqueue stores tk in the work queue and waits for the ack.
func enqueue(ctx context.Context, js jetstream.JetStream, tk task) error {
	data, err := json.Marshal(tk)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(tk.subject())
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, tk.msgID())
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithExpectStream(StreamDeliveries)); err != nil {
		return fmt.Errorf("enqueue delivery %s attempt %d: %w", tk.DeliveryID, tk.Attempt, err)
	}
	return nil
}

// setup creates or updates the work-queue stream and both consumers.
func (n *Notifier) setup(ctx context.Context) (evs, deliveries jetstream.Consumer, err error) {
	js := n.assets.JS
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamDeliveries,
		Description: "jetexport webhook delivery tasks: one per pending attempt",
		Subjects:    []string{deliveriesRoot + ".>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    n.assets.Config.Replicas,
		Duplicates:  dedupWindow,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("create stream %s: %w", StreamDeliveries, err)
	}
	evs, err = n.eventsConsumer(ctx)
	if err != nil {
		return nil, nil, err
	}
	deliveries, err = js.CreateOrUpdateConsumer(ctx, StreamDeliveries, jetstream.ConsumerConfig{
		Durable:       ConsumerDeliveries,
		Description:   "notifier workers making delivery attempts",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       n.cfg.Timeout + 30*time.Second,
		MaxDeliver:    -1,
		MaxAckPending: n.cfg.MaxPending,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("create consumer %s: %w", ConsumerDeliveries, err)
	}
	return evs, deliveries, nil
}

// eventsConsumer returns the fan-out consumer, creating it on first run to
// start MaxRetryAge back: a notifier added to a system with history sends
// what could still be delivered, not every webhook of the past month.
func (n *Notifier) eventsConsumer(ctx context.Context) (jetstream.Consumer, error) {
	js := n.assets.JS
	c, err := js.Consumer(ctx, events.StreamBulk, ConsumerEvents)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("consumer %s: %w", ConsumerEvents, err)
	}
	start := n.now().Add(-n.cfg.MaxRetryAge)
	c, err = js.CreateConsumer(ctx, events.StreamBulk, jetstream.ConsumerConfig{
		Durable:     ConsumerEvents,
		Description: "notifier fan-out of terminal job events to webhook deliveries",
		FilterSubjects: []string{
			events.KindSubjects(events.KindCompleted), events.KindSubjects(events.KindFailed),
			events.KindSubjects(events.KindCancelled), events.KindSubjects(events.KindExpired),
		},
		DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime:  &start,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       eventsAckWait,
		MaxDeliver:    -1,
	})
	if errors.Is(err, jetstream.ErrConsumerExists) {
		return js.Consumer(ctx, events.StreamBulk, ConsumerEvents)
	}
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", ConsumerEvents, err)
	}
	return c, nil
}
