package notifier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/webhooks"
)

// infraRetry is the wait before an attempt that could not be made (NATS
// unreachable, say) is tried again; it does not count as an attempt.
const infraRetry = 5 * time.Second

// userAgent identifies deliveries to receivers.
const userAgent = "jetexport-webhooks/1"

// outcome is what one attempt came to.
type outcome struct {
	status    int
	err       string
	delivered bool
	// permanent means retrying cannot help: the subscription is gone, the
	// destination is refused, or the receiver answered 410 Gone.
	permanent  bool
	retryAfter time.Duration
}

// deliver handles one task: hands it back if it is early or its endpoint is
// busy, else makes the attempt and records it.
func (n *Notifier) deliver(ctx context.Context, msg jetstream.Msg, signer linker) {
	var tk task
	if err := json.Unmarshal(msg.Data(), &tk); err != nil || tk.DeliveryID == "" || tk.Attempt < 1 || !tk.Tenant.Valid() {
		n.log.Error().Err(err).Str("subject", msg.Subject()).Msg("malformed delivery task; dropped")
		_ = msg.Term()
		return
	}
	now := n.now()
	if wait := tk.NotBefore.Sub(now); wait > 0 {
		// Early: back to the server until due. No jitter, it was applied
		// when the time was set.
		if err := msg.NakWithDelay(wait); err != nil {
			n.log.Warn().Err(err).Str("delivery_id", tk.DeliveryID).Msg("nak failed")
		}
		return
	}
	endpoint := endpointOf(tk.URL)
	if !n.limiter.acquire(endpoint) {
		n.nak(msg, n.busyWait())
		return
	}
	defer n.limiter.release(endpoint)

	log := n.log.With().Str("tenant", string(tk.Tenant)).Str("job_id", tk.JobID).Str("delivery_id", tk.DeliveryID).
		Str("subscription", tk.Subscription).Int("attempt", tk.Attempt).Logger()
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout+3*opTimeout)
	defer cancel()
	out, url, err := n.attempt(ctx, &tk, signer)
	if err != nil {
		log.Warn().Err(err).Msg("attempt could not be made; retrying")
		n.nak(msg, infraRetry)
		return
	}
	tk.URL = url
	if err := n.record(ctx, tk, out, log); err != nil {
		log.Warn().Err(err).Msg("outcome not recorded; the attempt will be made again")
		n.nak(msg, infraRetry)
		return
	}
	if err := msg.DoubleAck(ctx); err != nil {
		log.Warn().Err(err).Msg("ack failed; the attempt may be made again under the same webhook-id")
	}
}

// busyWait is how long a task whose endpoint is full waits before it is
// offered again: a fraction of an attempt's timeout.
func (n *Notifier) busyWait() time.Duration {
	return min(max(n.cfg.Timeout/5, 100*time.Millisecond), 2*time.Second)
}

// attempt makes one delivery attempt. An error means it could not be made
// for reasons of our own (reading the store or the log), and nothing was
// sent; the URL returned is where it went.
func (n *Notifier) attempt(ctx context.Context, tk *task, signer linker) (outcome, string, error) {
	dest, secrets, out, err := n.destination(ctx, tk)
	if err != nil || out != nil {
		return deref(out), dest, err
	}
	if _, err := n.policy.ParseURL(tk.Tenant.Mode(), dest); err != nil {
		return outcome{err: err.Error(), permanent: true}, dest, nil
	}
	now := n.now()
	p, err := n.payload(ctx, *tk, signer)
	if errors.Is(err, errGone) {
		return outcome{err: err.Error(), permanent: true}, dest, nil
	}
	if err != nil {
		return outcome{}, dest, err
	}
	body, err := json.Marshal(p)
	if err != nil {
		return outcome{}, dest, err
	}
	sig, err := webhooks.SignatureHeader(secrets, tk.DeliveryID, now, body)
	if err != nil {
		return outcome{}, dest, err
	}
	return n.post(ctx, dest, tk.DeliveryID, now, sig, body), dest, nil
}

func deref(o *outcome) outcome {
	if o == nil {
		return outcome{}
	}
	return *o
}

// destination returns where tk goes now and the secrets that sign it, or
// the outcome that ends the delivery without an attempt.
func (n *Notifier) destination(ctx context.Context, tk *task) (string, []string, *outcome, error) {
	if tk.Subscription == OneOff {
		s, err := n.store.DefaultSecret(ctx, tk.Tenant)
		if err != nil {
			return tk.URL, nil, nil, err
		}
		return tk.URL, []string{s.Secret}, nil, nil
	}
	sub, err := n.store.Subscription(ctx, tk.Tenant, tk.Subscription)
	if errors.Is(err, webhooks.ErrNotFound) {
		return tk.URL, nil, &outcome{err: "subscription " + tk.Subscription + " was deleted", permanent: true}, nil
	}
	if err != nil {
		return tk.URL, nil, nil, err
	}
	secrets := sub.SigningSecrets(n.now())
	if len(secrets) == 0 {
		return sub.URL, nil, &outcome{err: "subscription " + tk.Subscription + " has no signing secret", permanent: true}, nil
	}
	return sub.URL, secrets, nil, nil
}

// post sends the signed body and reads at most MaxResponseBytes of the answer.
func (n *Notifier) post(ctx context.Context, dest, id string, ts time.Time, sig string, body []byte) outcome {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dest, bytes.NewReader(body))
	if err != nil {
		return outcome{err: "cannot make the request: " + err.Error(), permanent: true}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(webhooks.HeaderID, id)
	req.Header.Set(webhooks.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(webhooks.HeaderSignature, sig)
	resp, err := n.client.Do(req)
	if err != nil {
		return n.transportOutcome(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, n.cfg.MaxResponseBytes))
	out := outcome{status: resp.StatusCode}
	switch code := resp.StatusCode; {
	case code >= 200 && code <= 299:
		out.delivered = true
	case code == http.StatusGone:
		out.err, out.permanent = "the receiver answered 410 Gone: it wants no more deliveries", true
	case code >= 300 && code <= 399:
		out.err = fmt.Sprintf("the receiver answered %d redirecting to %q; redirects are not followed, register the final URL", code, resp.Header.Get("Location"))
	default:
		out.err = fmt.Sprintf("the receiver answered %d", code)
		out.retryAfter = retryAfter(resp.Header.Get("Retry-After"), n.now())
	}
	return out
}

// transportOutcome describes an attempt that got no answer.
func (n *Notifier) transportOutcome(err error) outcome {
	var ne net.Error
	switch {
	case errors.Is(err, webhooks.ErrBlocked):
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return outcome{err: err.Error(), permanent: true}
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return outcome{err: fmt.Sprintf("no answer within %s", n.cfg.Timeout)}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // drop the method and URL, recorded next to the error anyway
	}
	return outcome{err: err.Error()}
}

// maxRetryAfter caps, in seconds, the Retry-After a receiver can ask for;
// nextWait caps it again at the longest wait of the schedule.
const maxRetryAfter = 7 * 24 * 3600

// retryAfter parses a Retry-After header, seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(min(s, maxRetryAfter)) * time.Second // no overflow
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// record publishes the outcome of tk's attempt on the job's subject and,
// when another attempt is due, stores its task.
func (n *Notifier) record(ctx context.Context, tk task, out outcome, log zerolog.Logger) error {
	now := n.now()
	ev := &events.WebhookAttempted{Subscription: tk.Subscription, URL: tk.URL, DeliveryID: tk.DeliveryID,
		Event: tk.Event, Attempt: tk.Attempt, StatusCode: out.status, Error: out.err,
		Delivered: out.delivered, Final: out.delivered || out.permanent}
	var next time.Time
	if !ev.Final {
		next = now.Add(n.nextWait(tk.Attempt, out.retryAfter))
		if next.After(tk.EventTime.Add(n.cfg.MaxRetryAge)) {
			ev.Final = true
			ev.Error = fmt.Sprintf("%s; gave up after %d attempts, the retry limit of %s is reached", out.err, tk.Attempt, n.cfg.MaxRetryAge)
		} else {
			ev.NextAttempt = &next
		}
	}
	msgID := events.MsgID(tk.JobID, events.KindWebhook, tk.DeliveryID+"."+strconv.Itoa(tk.Attempt))
	if _, err := broker.Publish(ctx, n.assets.JS, events.New(msgID, now, tk.Tenant, tk.JobID, ev), msgID); err != nil {
		return err
	}
	if !ev.Final {
		tk.Attempt++
		tk.NotBefore = next
		if err := enqueue(ctx, n.assets.JS, tk); err != nil {
			return err
		}
	}
	e := log.Info()
	if !out.delivered {
		e = log.Warn()
	}
	e = e.Int("status_code", out.status).Str("error", out.err).Bool("delivered", out.delivered).Bool("final", ev.Final)
	if ev.NextAttempt != nil {
		e = e.Time("next_attempt", next)
	}
	e.Msg("webhook attempt")
	return nil
}

// nextWait is the jittered wait after failed attempt number attempt, or
// the receiver's Retry-After when that is longer (capped at the longest
// wait of the schedule).
func (n *Notifier) nextWait(attempt int, retryAfter time.Duration) time.Duration {
	s := n.cfg.Schedule
	d := jitter(s[min(attempt, len(s))-1])
	return max(d, min(retryAfter, s[len(s)-1]))
}
