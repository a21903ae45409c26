package loader

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Errors callers branch on.
var (
	// ErrUnreachable: the gateway could not be reached at all.
	ErrUnreachable = errors.New("gateway unreachable")
	// ErrUnauthorized: the gateway refused the API key (401 or 403).
	ErrUnauthorized = errors.New("API key refused")
)

// HTTPError is a non-2xx answer of the gateway, with the message it gave:
// the diagnostics of an OperationOutcome or the message of the {error}
// envelope.
type HTTPError struct {
	Method, URL string
	Status      int
	Code        string // the envelope's error code or the outcome's issue code, if any
	Message     string
}

// Error reads "POST /fhir: 400 Bad Request: <message>".
func (e *HTTPError) Error() string {
	s := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is makes 401 and 403 answers match [ErrUnauthorized].
func (e *HTTPError) Is(target error) bool {
	return target == ErrUnauthorized && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

// call is one HTTP request; body is resent on each retry.
type call struct {
	method, url string
	header      http.Header
	body        []byte
	// retryAfter, when set, is told the Retry-After of a successful
	// answer (the export status poll uses it to pace itself).
	retryAfter *time.Duration
}

// send runs c, retrying 429 and 503 answers and, once the gateway has
// answered before, network errors. It returns the response of the last
// attempt with its body unread: the caller closes it.
func (l *Loader) send(ctx context.Context, c call) (*http.Response, error) {
	retries := max(l.cfg.Retries, 0)
	for attempt := 0; ; attempt++ {
		resp, err := l.attempt(ctx, c)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if !l.reached.Load() {
				return nil, fmt.Errorf("%s %s: %w: %w", c.method, c.url, ErrUnreachable, err)
			}
			if attempt >= retries {
				return nil, fmt.Errorf("%s %s: giving up after %d attempts: %w", c.method, c.url, attempt+1, err)
			}
			if err := l.wait(ctx, l.backoff(attempt)); err != nil {
				return nil, err
			}
			l.retried.Add(1)
			continue
		}
		l.reached.Store(true)
		retryable := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable
		if !retryable || attempt >= retries {
			if c.retryAfter != nil {
				*c.retryAfter = l.retryAfter(resp.Header.Get("Retry-After"), 0)
			}
			return resp, nil
		}
		d := l.retryAfter(resp.Header.Get("Retry-After"), l.backoff(attempt))
		drain(resp)
		if err := l.wait(ctx, d); err != nil {
			return nil, err
		}
		l.retried.Add(1)
	}
}

func (l *Loader) attempt(ctx context.Context, c call) (*http.Response, error) {
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, body)
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	return l.cfg.HTTPClient.Do(req)
}

// backoff is the wait before retry attempt+1: RetryWait doubled per
// attempt, capped, with up to 25% jitter so that workers do not retry in
// lockstep.
func (l *Loader) backoff(attempt int) time.Duration {
	d := l.cfg.RetryWait << min(attempt, 20)
	d = min(d, l.cfg.MaxRetryWait)
	return d + time.Duration(rand.Int64N(int64(d)/4+1))
}

// retryAfter parses a Retry-After header (seconds or an HTTP date),
// capped at MaxRetryWait; def when there is none.
func (l *Loader) retryAfter(h string, def time.Duration) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return def
	}
	d := def
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = max(time.Until(t), 0)
	}
	return min(d, l.cfg.MaxRetryWait)
}

func (l *Loader) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// drain reads and closes a response body so its connection is reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}

// maxAnswer bounds a JSON answer read into memory.
const maxAnswer = 64 << 20

// readAnswer reads a response body. A non-2xx status becomes an
// *HTTPError carrying the server's message.
func readAnswer(c call, resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", c.method, c.url, err)
	}
	if resp.StatusCode/100 != 2 {
		code, msg := serverMessage(body)
		return body, &HTTPError{Method: c.method, URL: pathOf(c.url), Status: resp.StatusCode, Code: code, Message: msg}
	}
	return body, nil
}

// pathOf returns the path and query of u, for shorter messages.
func pathOf(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.IndexByte(u[i+3:], '/'); j >= 0 {
			return u[i+3+j:]
		}
	}
	return u
}

// answer is what the gateway sends on failure: an OperationOutcome on
// /fhir, the {error} envelope on /v1.
type answer struct {
	ResourceType string `json:"resourceType"`
	Issue        []struct {
		Code        string `json:"code"`
		Diagnostics string `json:"diagnostics"`
		Details     struct {
			Text string `json:"text"`
		} `json:"details"`
		Expression []string `json:"expression"`
	} `json:"issue"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"details"`
	} `json:"error"`
}

// serverMessage extracts the code and the human message of an error body.
func serverMessage(body []byte) (code, msg string) {
	var a answer
	if err := json.Unmarshal(body, &a); err == nil {
		switch {
		case a.ResourceType == "OperationOutcome":
			return outcomeMessage(&a)
		case a.Error != nil:
			msg = a.Error.Message
			for _, d := range a.Error.Details {
				msg += "; " + strings.TrimPrefix(d.Field+": ", ": ") + d.Message
			}
			return a.Error.Code, msg
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return "", s
}

// outcomeMessage joins the issues of an OperationOutcome.
func outcomeMessage(a *answer) (code, msg string) {
	var parts []string
	for _, is := range a.Issue {
		if code == "" {
			code = is.Code
		}
		m := is.Diagnostics
		if m == "" {
			m = is.Details.Text
		}
		if m == "" {
			m = is.Code
		}
		if len(is.Expression) > 0 {
			m += " (at " + strings.Join(is.Expression, ", ") + ")"
		}
		parts = append(parts, m)
	}
	return code, strings.Join(parts, "; ")
}
