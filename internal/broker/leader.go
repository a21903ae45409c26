package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A direct get may be answered by any replica of a clustered stream,
// including a follower that has not applied the newest messages yet: a
// worker that publishes an event and then reads its job's events could
// miss its own event, or one another worker published just before. The
// exporter decides from such reads (queue the next task, complete the
// job), and a decision taken on a stale read is lost: nobody takes it
// again. So a read of a job's events first asks the stream's leader for
// the sequence of the job's last event, and reads until it has that one.

// leaderTimeout bounds one request to the stream's leader.
const leaderTimeout = 10 * time.Second

// staleReadWait bounds how long a read waits for the replica that answers
// it to catch up with the leader, asking again meanwhile.
const staleReadWait = 10 * time.Second

// LeaderLastSeq returns the sequence of the last message under subject
// (wildcards allowed) in stream as its leader has it, or 0 if there is
// none. Only the leader answers this request ($JS.API.STREAM.MSG.GET), so
// every message acknowledged before the call is at or below it.
func LeaderLastSeq(ctx context.Context, js jetstream.JetStream, stream, subject string) (uint64, error) {
	body, err := json.Marshal(struct {
		LastBySubject string `json:"last_by_subj"`
	}{subject})
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, leaderTimeout)
	defer cancel()
	msg, err := js.Conn().RequestWithContext(ctx, apiPrefix(js.Options())+"STREAM.MSG.GET."+stream, body)
	if err != nil {
		return 0, fmt.Errorf("last sequence of %s from the leader of %s: %w", subject, stream, err)
	}
	var resp struct {
		Message *struct {
			Seq uint64 `json:"seq"`
		} `json:"message"`
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return 0, fmt.Errorf("last sequence of %s from the leader of %s: %w", subject, stream, err)
	}
	switch {
	case resp.Error != nil && resp.Error.Code == 404:
		return 0, nil
	case resp.Error != nil:
		return 0, fmt.Errorf("last sequence of %s from the leader of %s: %d %s", subject, stream, resp.Error.Code, resp.Error.Description)
	case resp.Message == nil:
		return 0, fmt.Errorf("last sequence of %s from the leader of %s: empty answer", subject, stream)
	}
	return resp.Message.Seq, nil
}
