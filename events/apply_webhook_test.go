package events_test

import (
	"time"

	"github.com/jetexport/jetexport/events"
)

// attempt is one webhook attempt of delivery id to subscription whs_<id>;
// attempt 0 records that the delivery is queued.
type attempt struct {
	id        string
	n         int
	status    int
	err       string
	next      *time.Time
	delivered bool
	final     bool
}

func (a attempt) payload() *events.WebhookAttempted {
	return &events.WebhookAttempted{Subscription: "whs_" + a.id, URL: "https://hooks.example.com/" + a.id,
		DeliveryID: a.id, Event: "export.completed", Attempt: a.n, StatusCode: a.status, Error: a.err,
		NextAttempt: a.next, Delivered: a.delivered, Final: a.final}
}

// delivery is the state the fold should keep for a, last folded in at second n.
func (a attempt) delivery(status events.DeliveryStatus, n int) events.Delivery {
	d := events.Delivery{DeliveryID: a.id, Subscription: "whs_" + a.id, URL: "https://hooks.example.com/" + a.id,
		Event: "export.completed", Status: status, Attempts: a.n, LastStatus: a.status, LastError: a.err, UpdatedAt: at(n)}
	if status == events.DeliveryRetrying {
		d.NextAttempt = a.next
	}
	return d
}

func webhookCases() []foldCase {
	life := lifeEvents()
	retry1 := attempt{id: "d1", n: 1, status: 503, err: "receiver answered 503", next: ptr(at(70))}
	ok2 := attempt{id: "d1", n: 2, status: 204, delivered: true}
	fail2 := attempt{id: "d1", n: 2, status: 500, err: "receiver answered 500", final: true}
	retry2 := attempt{id: "d1", n: 2, status: 502, err: "receiver answered 502", next: ptr(at(200))}
	ok1 := attempt{id: "d1", n: 1, status: 200, delivered: true}
	other := attempt{id: "d2", n: 1, err: "dial tcp: connection refused", next: ptr(at(40))}
	queued := attempt{id: "d1", n: 0}
	hooks := func(j events.Job, seq uint64, ds ...events.Delivery) events.Job {
		return with(j, func(j *events.Job) { j.Webhooks, j.LastSeq = ds, seq })
	}
	return []foldCase{
		{
			name:   "queued delivery shows as pending",
			events: concat(life, []events.Event{ev(7, 6, queued.payload())}),
			want:   hooks(completedJob(), 7, queued.delivery(events.DeliveryPending, 6)),
		},
		{
			name:   "queued then retrying then delivered",
			events: concat(life, []events.Event{ev(7, 6, queued.payload()), ev(8, 10, retry1.payload()), ev(9, 70, ok2.payload())}),
			want:   hooks(completedJob(), 9, ok2.delivery(events.DeliveryDelivered, 70)),
		},
		{
			name:   "queued record after the first attempt is ignored",
			events: concat(life, []events.Event{ev(7, 10, retry1.payload()), ev(8, 11, queued.payload())}),
			want:   hooks(completedJob(), 8, retry1.delivery(events.DeliveryRetrying, 10)),
		},
		{
			name:   "queued twice stays pending from the first",
			events: concat(life, []events.Event{ev(7, 6, queued.payload()), ev(8, 9, queued.payload())}),
			want:   hooks(completedJob(), 8, queued.delivery(events.DeliveryPending, 6)),
		},
		{
			name:   "webhook attempt that will be retried",
			events: concat(life, []events.Event{ev(7, 10, retry1.payload())}),
			want:   hooks(completedJob(), 7, retry1.delivery(events.DeliveryRetrying, 10)),
		},
		{
			name:   "webhook retrying then delivered",
			events: concat(life, []events.Event{ev(7, 10, retry1.payload()), ev(8, 70, ok2.payload())}),
			want:   hooks(completedJob(), 8, ok2.delivery(events.DeliveryDelivered, 70)),
		},
		{
			name:   "webhook final failure",
			events: concat(life, []events.Event{ev(7, 10, retry1.payload()), ev(8, 70, fail2.payload())}),
			want:   hooks(completedJob(), 8, fail2.delivery(events.DeliveryFailed, 70)),
		},
		{
			name:   "late record of an older attempt is ignored",
			events: concat(life, []events.Event{ev(7, 70, retry2.payload()), ev(8, 71, retry1.payload())}),
			want:   hooks(completedJob(), 8, retry2.delivery(events.DeliveryRetrying, 70)),
		},
		{
			name:   "attempt after delivery is ignored",
			events: concat(life, []events.Event{ev(7, 10, ok1.payload()), ev(8, 70, retry2.payload())}),
			want:   hooks(completedJob(), 8, ok1.delivery(events.DeliveryDelivered, 10)),
		},
		{
			name:   "attempt after final failure is ignored",
			events: concat(life, []events.Event{ev(7, 10, fail2.payload()), ev(8, 70, attempt{id: "d1", n: 3, status: 200, delivered: true}.payload())}),
			want:   hooks(completedJob(), 8, fail2.delivery(events.DeliveryFailed, 10)),
		},
		{
			name:   "deliveries to two subscriptions are kept apart",
			events: concat(life, []events.Event{ev(7, 10, retry1.payload()), ev(8, 11, other.payload()), ev(9, 70, ok2.payload())}),
			want: hooks(completedJob(), 9, ok2.delivery(events.DeliveryDelivered, 70),
				other.delivery(events.DeliveryRetrying, 11)),
		},
		{
			name:   "webhook of a failed job leaves it failed",
			events: []events.Event{life[0], ev(2, 1, failed()), ev(3, 10, ok1.payload())},
			want:   hooks(failedJob(pendingJob(), 3, 1), 3, ok1.delivery(events.DeliveryDelivered, 10)),
		},
		{
			name:   "webhook of an unknown job is ignored",
			events: []events.Event{ev(1, 10, ok1.payload())},
			want:   events.Job{},
		},
	}
}
