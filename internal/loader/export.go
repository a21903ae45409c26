package loader

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Job statuses, as GET /v1/bulk/jobs/{jobId} reports them.
const (
	StatusPending    = "pending"
	StatusProcessing = "processing"
	StatusCompleted  = "completed"
	StatusFailed     = "failed"
	StatusCancelled  = "cancelled"
	StatusExpired    = "expired"
)

// Errors of the export client.
var (
	// ErrJobFailed: the job ended failed, cancelled or expired; the error
	// carries the job's message.
	ErrJobFailed = errors.New("export job did not complete")
	// ErrNotFound: no such job for this key's tenant.
	ErrNotFound = errors.New("export job not found")
)

// ExportRequest is the body of POST /v1/bulk/export.
type ExportRequest struct {
	ResourceTypes []string `json:"resourceTypes"`
	// Since, optional, is an ISO 8601 instant: only records created or
	// updated on or after it are exported.
	Since string `json:"since,omitempty"`
}

// Job is an export job as the gateway reports it.
type Job struct {
	JobID         string      `json:"jobId"`
	Status        string      `json:"status"`
	Message       string      `json:"message,omitempty"`
	ResourceTypes []string    `json:"resourceTypes,omitempty"`
	Since         string      `json:"since,omitempty"`
	CreatedAt     string      `json:"createdAt,omitempty"`
	StartedAt     string      `json:"startedAt,omitempty"`
	CompletedAt   string      `json:"completedAt,omitempty"`
	Progress      JobProgress `json:"progress"`
	DownloadURL   string      `json:"downloadUrl,omitempty"`
	ExpiresAt     string      `json:"expiresAt,omitempty"`
	Files         []JobFile   `json:"files,omitempty"`
	Error         *JobError   `json:"error,omitempty"`
}

// JobProgress is how far a job has got.
type JobProgress struct {
	Resources int64 `json:"resources"`
	Bytes     int64 `json:"bytes"`
	Files     int   `json:"files"`
	// Percent is nil while the total is not known.
	Percent *float64 `json:"percent,omitempty"`
}

// JobFile is one output file of a completed job.
type JobFile struct {
	ResourceType string `json:"resourceType"`
	URL          string `json:"url"`
	Count        int64  `json:"count"`
	Bytes        int64  `json:"bytes"`
}

// JobError is why a job failed.
type JobError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// v1 sends a JSON request to the /v1 API and decodes the data of the
// {data, meta} answer into out. retryAfter, if not nil, receives the
// answer's Retry-After.
func (l *Loader) v1(ctx context.Context, method, path string, in, out any, retryAfter *time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	c := call{method: method, url: l.base + path, retryAfter: retryAfter,
		header: http.Header{"X-Api-Key": {l.cfg.Key}, "Accept": {"application/json"}}}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		c.body = b
		c.header.Set("Content-Type", "application/json")
	}
	resp, err := l.send(ctx, c)
	if err != nil {
		return err
	}
	body, err := readAnswer(c, resp)
	if err != nil {
		return err
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil || len(env.Data) == 0 || bytes.Equal(env.Data, []byte("null")) {
		return fmt.Errorf("%s %s: the answer has no data envelope", method, path)
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("%s %s: decode data: %w", method, path, err)
	}
	return nil
}

// StartExport kicks off an export and returns the pending job (its JobID,
// Status and Message).
func (l *Loader) StartExport(ctx context.Context, req ExportRequest) (Job, error) {
	var j Job
	if err := l.v1(ctx, http.MethodPost, "/v1/bulk/export", req, &j, nil); err != nil {
		return Job{}, fmt.Errorf("start export: %w", err)
	}
	if j.JobID == "" {
		return Job{}, errors.New("start export: the answer has no jobId")
	}
	return j, nil
}

// Job returns the current state of job id. A job unknown to this key's
// tenant is [ErrNotFound].
func (l *Loader) Job(ctx context.Context, id string) (Job, error) {
	j, _, err := l.job(ctx, id)
	return j, err
}

func (l *Loader) job(ctx context.Context, id string) (Job, time.Duration, error) {
	var j Job
	var after time.Duration
	err := l.v1(ctx, http.MethodGet, "/v1/bulk/jobs/"+url.PathEscape(id), nil, &j, &after)
	var he *HTTPError
	if errors.As(err, &he) && he.Status == http.StatusNotFound {
		return Job{}, 0, fmt.Errorf("job %s: %w: %w", id, ErrNotFound, err)
	}
	if err != nil {
		return Job{}, 0, fmt.Errorf("job %s: %w", id, err)
	}
	return j, after, nil
}

// WaitJob polls job id every interval (or the answer's Retry-After, if
// longer) until it ends, calling onPoll, if not nil, with each state. It
// returns the completed job, or an error wrapping [ErrJobFailed] with the
// job's message when it failed, was cancelled or expired.
func (l *Loader) WaitJob(ctx context.Context, id string, interval time.Duration, onPoll func(Job)) (Job, error) {
	for {
		j, after, err := l.job(ctx, id)
		if err != nil {
			return Job{}, err
		}
		if onPoll != nil {
			onPoll(j)
		}
		switch j.Status {
		case StatusCompleted:
			return j, nil
		case StatusFailed, StatusCancelled, StatusExpired:
			msg := j.Status
			if j.Error != nil && j.Error.Message != "" {
				msg += ": " + j.Error.Message
				if j.Error.Code != "" {
					msg += " (" + j.Error.Code + ")"
				}
			}
			return j, fmt.Errorf("job %s %s: %w", id, msg, ErrJobFailed)
		}
		if err := l.wait(ctx, max(interval, after)); err != nil {
			return j, err
		}
	}
}
