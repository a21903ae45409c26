package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/jetexport/jetexport/events"
)

// StoreConfig configures a [Store]. The zero value is usable.
type StoreConfig struct {
	// Policy checks subscription URLs when they are registered.
	Policy Policy
	// MaxPerTenant caps a tenant's subscriptions (default 25).
	MaxPerTenant int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultMaxPerTenant is the subscription cap when StoreConfig leaves it zero.
const DefaultMaxPerTenant = 25

// maxSecrets bounds the secrets kept on one subscription: the current one
// and two still in their grace period.
const maxSecrets = 3

// updateTries bounds optimistic-concurrency retries of a rotation.
const updateTries = 5

// Store keeps webhook subscriptions and the tenants' default secrets in the
// KV bucket webhooks, under "<tenant>.sub.<id>" and "<tenant>.default". Every
// method takes the tenant the caller authenticated: a subscription of
// another tenant is [ErrNotFound]. A Store is safe for concurrent use.
type Store struct {
	kv     jetstream.KeyValue
	policy Policy
	max    int
	now    func() time.Time
}

// NewStore returns a store over the webhooks bucket kv.
func NewStore(kv jetstream.KeyValue, cfg StoreConfig) *Store {
	if cfg.MaxPerTenant <= 0 {
		cfg.MaxPerTenant = DefaultMaxPerTenant
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{kv: kv, policy: cfg.Policy, max: cfg.MaxPerTenant, now: cfg.Now}
}

var idRE = regexp.MustCompile(`^wh_[0-9A-Z]{26}$`)

// ValidID reports whether id has the form of a subscription id ("wh_" and
// a ULID); anything else cannot name a subscription.
func ValidID(id string) bool { return idRE.MatchString(id) }

func subKey(t events.Tenant, id string) string { return string(t) + ".sub." + id }
func defaultKey(t events.Tenant) string        { return string(t) + ".default" }

// Create registers a subscription for tenant t from a request that passed
// [ParseCreate]: it applies the address policy to the URL (https only for a
// live tenant), makes a secret and stores both. The answer carries the
// secret, which is not shown again.
func (s *Store) Create(ctx context.Context, t events.Tenant, req CreateRequest) (Created, error) {
	if !t.Valid() {
		return Created{}, fmt.Errorf("create webhook: invalid tenant %q", t)
	}
	if _, err := s.policy.CheckURL(ctx, t.Mode(), req.URL); err != nil {
		return Created{}, err
	}
	if ps := checkEvents(req.Events); len(ps) > 0 {
		return Created{}, invalid(ps...)
	}
	subs, err := s.List(ctx, t)
	if err != nil {
		return Created{}, err
	}
	if len(subs) >= s.max {
		return Created{}, fmt.Errorf("%w: tenant has %d webhooks, the most allowed; delete one first", ErrLimit, len(subs))
	}
	now := s.now().UTC()
	sub := Subscription{
		ID: "wh_" + ulid.Make().String(), Tenant: t, URL: req.URL,
		Events: compactEvents(req.Events), Description: req.Description, CreatedAt: now,
		Secrets: []Secret{{Value: NewSecret(), CreatedAt: now}},
	}
	b, err := json.Marshal(sub)
	if err != nil {
		return Created{}, fmt.Errorf("create webhook: %w", err)
	}
	if _, err := s.kv.Create(ctx, subKey(t, sub.ID), b); err != nil {
		return Created{}, fmt.Errorf("create webhook: %w", err)
	}
	return Created{View: sub.View(now), Secret: sub.Secrets[0].Value}, nil
}

// compactEvents returns evs without duplicates, in the order of [EventTypes].
func compactEvents(evs []string) []string {
	out := make([]string, 0, len(evs))
	for _, e := range EventTypes() {
		if slices.Contains(evs, e) {
			out = append(out, e)
		}
	}
	return out
}

// List returns the views of tenant t's subscriptions, oldest first.
func (s *Store) List(ctx context.Context, t events.Tenant) ([]View, error) {
	subs, err := s.subscriptions(ctx, t)
	if err != nil {
		return nil, err
	}
	now := s.now()
	views := make([]View, len(subs))
	for i, sub := range subs {
		views[i] = sub.View(now)
	}
	return views, nil
}

// Get returns the view of one of tenant t's subscriptions, or [ErrNotFound].
func (s *Store) Get(ctx context.Context, t events.Tenant, id string) (View, error) {
	sub, _, err := s.load(ctx, t, id)
	if err != nil {
		return View{}, err
	}
	return sub.View(s.now()), nil
}

// Subscription returns one subscription with its secrets, or [ErrNotFound];
// the notifier signs with them.
func (s *Store) Subscription(ctx context.Context, t events.Tenant, id string) (Subscription, error) {
	sub, _, err := s.load(ctx, t, id)
	return sub, err
}

// Matching returns tenant t's subscriptions to eventType, with their secrets.
func (s *Store) Matching(ctx context.Context, t events.Tenant, eventType string) ([]Subscription, error) {
	subs, err := s.subscriptions(ctx, t)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(subs, func(sub Subscription) bool { return !sub.Wants(eventType) }), nil
}

// Delete removes one of tenant t's subscriptions, or answers [ErrNotFound].
// Deliveries already queued for it stop at their next attempt.
func (s *Store) Delete(ctx context.Context, t events.Tenant, id string) (Deleted, error) {
	_, rev, err := s.load(ctx, t, id)
	if err != nil {
		return Deleted{}, err
	}
	err = s.kv.Delete(ctx, subKey(t, id), jetstream.LastRevision(rev))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		// Rotated meanwhile: still there, delete whatever it is now.
		err = s.kv.Delete(ctx, subKey(t, id))
	}
	if err != nil {
		return Deleted{}, fmt.Errorf("delete webhook %s: %w", id, err)
	}
	return Deleted{ID: id, Deleted: true}, nil
}

// Rotate gives one of tenant t's subscriptions a new secret. The previous
// secret keeps signing, next to the new one, for the grace period the
// request asks for, so receivers can switch without missing a delivery.
func (s *Store) Rotate(ctx context.Context, t events.Tenant, id string, req RotateRequest) (Rotated, error) {
	for range updateTries {
		sub, rev, err := s.load(ctx, t, id)
		if err != nil {
			return Rotated{}, err
		}
		now := s.now().UTC()
		out := Rotated{ID: id, Secret: NewSecret()}
		expires := now.Add(req.grace())
		kept := []Secret{{Value: out.Secret, CreatedAt: now}}
		for i, sec := range sub.Secrets {
			if i == 0 && req.grace() > 0 && (sec.ExpiresAt == nil || sec.ExpiresAt.After(expires)) {
				sec.ExpiresAt = &expires
				out.PreviousSecretExpiresAt = &expires
			}
			if sec.ExpiresAt != nil && now.Before(*sec.ExpiresAt) && len(kept) < maxSecrets {
				kept = append(kept, sec)
			}
		}
		sub.Secrets = kept
		b, err := json.Marshal(sub)
		if err != nil {
			return Rotated{}, fmt.Errorf("rotate webhook %s: %w", id, err)
		}
		_, err = s.kv.Update(ctx, subKey(t, id), b, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return Rotated{}, fmt.Errorf("rotate webhook %s: %w", id, err)
		}
		return out, nil
	}
	return Rotated{}, fmt.Errorf("rotate webhook %s: changed by others %d times in a row; try again", id, updateTries)
}

// DefaultSecret returns tenant t's default secret, making it on first need.
// It signs deliveries to the one-off webhookUrl an export may name.
func (s *Store) DefaultSecret(ctx context.Context, t events.Tenant) (DefaultSecretView, error) {
	if !t.Valid() {
		return DefaultSecretView{}, fmt.Errorf("default secret: invalid tenant %q", t)
	}
	for range updateTries {
		entry, err := s.kv.Get(ctx, defaultKey(t))
		if err == nil {
			var v DefaultSecretView
			if err := json.Unmarshal(entry.Value(), &v); err != nil || v.Secret == "" {
				return DefaultSecretView{}, fmt.Errorf("default secret of %s: malformed entry", t)
			}
			return v, nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return DefaultSecretView{}, fmt.Errorf("default secret of %s: %w", t, err)
		}
		v := DefaultSecretView{Secret: NewSecret(), CreatedAt: s.now().UTC()}
		b, err := json.Marshal(v)
		if err != nil {
			return DefaultSecretView{}, err
		}
		_, err = s.kv.Create(ctx, defaultKey(t), b)
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return DefaultSecretView{}, fmt.Errorf("default secret of %s: %w", t, err)
		}
		// Another gateway or notifier made it first: read theirs.
	}
	return DefaultSecretView{}, fmt.Errorf("default secret of %s: could not be read or made", t)
}

func (s *Store) load(ctx context.Context, t events.Tenant, id string) (Subscription, uint64, error) {
	if !ValidID(id) || !t.Valid() {
		return Subscription{}, 0, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	entry, err := s.kv.Get(ctx, subKey(t, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Subscription{}, 0, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if err != nil {
		return Subscription{}, 0, fmt.Errorf("load webhook %s: %w", id, err)
	}
	var sub Subscription
	if err := json.Unmarshal(entry.Value(), &sub); err != nil {
		return Subscription{}, 0, fmt.Errorf("load webhook %s: %w", id, err)
	}
	return sub, entry.Revision(), nil
}

// subscriptions reads every subscription of t, oldest first (ids are ULIDs).
func (s *Store) subscriptions(ctx context.Context, t events.Tenant) ([]Subscription, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("list webhooks: invalid tenant %q", t)
	}
	w, err := s.kv.WatchFiltered(ctx, []string{subKey(t, "*")}, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list webhooks of %s: %w", t, err)
	}
	defer w.Stop()
	var subs []Subscription
	for {
		select {
		case entry := <-w.Updates():
			if entry == nil {
				// A key updated while listing can show up twice: keep one.
				slices.SortStableFunc(subs, func(a, b Subscription) int { return strings.Compare(a.ID, b.ID) })
				return slices.CompactFunc(subs, func(a, b Subscription) bool { return a.ID == b.ID }), nil
			}
			var sub Subscription
			if err := json.Unmarshal(entry.Value(), &sub); err != nil {
				return nil, fmt.Errorf("list webhooks of %s: entry %s: %w", t, entry.Key(), err)
			}
			subs = append(subs, sub)
		case <-ctx.Done():
			return nil, fmt.Errorf("list webhooks of %s: %w", t, ctx.Err())
		}
	}
}
