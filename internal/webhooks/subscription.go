package webhooks

import (
	"slices"
	"time"

	"github.com/jetexport/jetexport/events"
)

// Subscription is a tenant's registered webhook endpoint as stored in the
// webhooks bucket, secrets included. Only the notifier and [Store] see it;
// API answers show a [View].
type Subscription struct {
	ID          string        `json:"id"`
	Tenant      events.Tenant `json:"tenant"`
	URL         string        `json:"url"`
	Events      []string      `json:"events"`
	Description string        `json:"description,omitempty"`
	CreatedAt   time.Time     `json:"createdAt"`
	// Secrets signs deliveries, newest first. A rotated-out secret keeps
	// its place until its ExpiresAt.
	Secrets []Secret `json:"secrets"`
}

// Secret is one signing secret of a subscription.
type Secret struct {
	Value     string     `json:"value"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// Wants reports whether s subscribes to eventType.
func (s Subscription) Wants(eventType string) bool { return slices.Contains(s.Events, eventType) }

// SigningSecrets returns the secrets that sign a delivery made at now: the
// current one and any rotated-out one still in its grace period.
func (s Subscription) SigningSecrets(now time.Time) []string {
	out := make([]string, 0, len(s.Secrets))
	for _, sec := range s.Secrets {
		if sec.ExpiresAt == nil || now.Before(*sec.ExpiresAt) {
			out = append(out, sec.Value)
		}
	}
	return out
}

// View is a subscription as the API shows it: everything but the secrets.
type View struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Events      []string  `json:"events"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"createdAt"`
	// SecretCreatedAt is when the current secret was made (by the
	// creation or the last rotation).
	SecretCreatedAt time.Time `json:"secretCreatedAt"`
	// PreviousSecretExpiresAt is set while a rotated-out secret still signs.
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt,omitempty"`
}

// View returns the API view of s as of now.
func (s Subscription) View(now time.Time) View {
	v := View{ID: s.ID, URL: s.URL, Events: slices.Clone(s.Events), Description: s.Description,
		CreatedAt: s.CreatedAt}
	if len(s.Secrets) > 0 {
		v.SecretCreatedAt = s.Secrets[0].CreatedAt
	}
	for _, sec := range s.Secrets[min(1, len(s.Secrets)):] {
		if sec.ExpiresAt != nil && now.Before(*sec.ExpiresAt) &&
			(v.PreviousSecretExpiresAt == nil || sec.ExpiresAt.After(*v.PreviousSecretExpiresAt)) {
			v.PreviousSecretExpiresAt = sec.ExpiresAt
		}
	}
	return v
}

// Created answers a create request: the view and the signing secret, shown
// this once.
type Created struct {
	View
	Secret string `json:"secret"`
}

// Rotated answers a rotate request: the new secret, shown this once, and
// until when the previous one keeps signing (absent when it was retired at
// once).
type Rotated struct {
	ID                      string     `json:"id"`
	Secret                  string     `json:"secret"`
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt,omitempty"`
}

// Deleted answers a delete request.
type Deleted struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

// DefaultSecretView answers a request for the tenant's default secret, the
// one that signs deliveries to the one-off webhookUrl of an export.
type DefaultSecretView struct {
	Secret    string    `json:"secret"`
	CreatedAt time.Time `json:"createdAt"`
}
