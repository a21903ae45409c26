package webhooks

import (
	"time"

	"github.com/jetexport/jetexport/events"
)

// Payload is the JSON body of every delivery.
type Payload struct {
	// Type is the event type, such as "export.completed".
	Type string `json:"type"`
	// ID is the delivery id, the same as the webhook-id header: identical
	// on every retry of one delivery, so a receiver can drop duplicates.
	ID string `json:"id"`
	// CreatedAt is when the job event happened (not when it was delivered).
	CreatedAt time.Time   `json:"createdAt"`
	Data      PayloadData `json:"data"`
}

// PayloadData describes the job. Files, DownloadURL and ExpiresAt are set
// for export.completed only: signed URLs made for this attempt, valid for an
// hour; Error is set for export.failed only.
type PayloadData struct {
	JobID         string        `json:"jobId"`
	Status        events.Status `json:"status"`
	ResourceTypes []string      `json:"resourceTypes"`
	Since         *time.Time    `json:"since,omitempty"`
	CompletedAt   *time.Time    `json:"completedAt,omitempty"`
	Files         []PayloadFile `json:"files"`
	DownloadURL   string        `json:"downloadUrl,omitempty"`
	ExpiresAt     *time.Time    `json:"expiresAt,omitempty"`
	Error         *PayloadError `json:"error,omitempty"`
}

// PayloadFile is one output file of a completed export.
type PayloadFile struct {
	ResourceType string `json:"resourceType"`
	URL          string `json:"url"`
	Count        int64  `json:"count"`
	Bytes        int64  `json:"bytes"`
}

// PayloadError says why an export failed.
type PayloadError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
