package notifier

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/webhooks"
)

// errGone means the job event a delivery is about is no longer in the log
// (past the stream's age limit), so no payload can be made.
var errGone = errors.New("the job event is no longer in the log")

// payload builds the body of tk's attempt from the job's events (the one
// being delivered and the request), not from the projection, which may
// not have folded the event in yet. Download links are signed afresh for
// each attempt, valid Config.LinkTTL from now.
func (n *Notifier) payload(ctx context.Context, tk task, signer linker) (webhooks.Payload, error) {
	raw, err := n.assets.Stream.GetMsg(ctx, tk.EventSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return webhooks.Payload{}, errGone
	}
	if err != nil {
		return webhooks.Payload{}, fmt.Errorf("read job event %d: %w", tk.EventSeq, err)
	}
	ev, err := events.Decode(raw.Data)
	if err != nil || ev.JobID != tk.JobID || ev.Tenant != tk.Tenant {
		return webhooks.Payload{}, fmt.Errorf("%w: sequence %d holds another event", errGone, tk.EventSeq)
	}
	data := webhooks.PayloadData{JobID: tk.JobID, Files: []webhooks.PayloadFile{}}
	req, err := broker.LastEvent(ctx, n.assets.Stream, tk.Tenant, tk.JobID, events.KindRequested)
	switch {
	case errors.Is(err, broker.ErrNotFound):
	case err != nil:
		return webhooks.Payload{}, err
	default:
		if r, ok := req.Data.(*events.ExportRequested); ok {
			data.ResourceTypes, data.Since = r.ResourceTypes, r.Since
		}
	}
	switch p := ev.Data.(type) {
	case *events.ExportCompleted:
		data.Status = events.StatusCompleted
		at := ev.Time
		data.CompletedAt = &at
		links := signer.JobLinks(n.cfg.PublicURL, events.Job{ID: tk.JobID, Tenant: tk.Tenant,
			Status: events.StatusCompleted, Files: p.Files}, n.cfg.LinkTTL)
		data.DownloadURL = links.DownloadURL
		exp := links.ExpiresAt
		data.ExpiresAt = &exp
		for _, f := range links.Files {
			data.Files = append(data.Files, webhooks.PayloadFile{ResourceType: f.ResourceType, URL: f.URL,
				Count: f.Count, Bytes: f.Bytes})
		}
	case *events.ExportFailed:
		data.Status = events.StatusFailed
		data.Error = &webhooks.PayloadError{Code: p.Code, Message: p.Message}
	case *events.ExportCancelled:
		data.Status = events.StatusCancelled
	case *events.ExportExpired:
		data.Status = events.StatusExpired
	default:
		return webhooks.Payload{}, fmt.Errorf("%w: sequence %d is a %s event", errGone, tk.EventSeq, ev.Kind())
	}
	return webhooks.Payload{Type: tk.Event, ID: tk.DeliveryID, CreatedAt: ev.Time, Data: data}, nil
}
