package apikeys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/jetexport/jetexport/events"
)

// Errors callers branch on.
var (
	// ErrUnknown means no key matches: never issued, mistyped, or no such id.
	ErrUnknown = errors.New("unknown API key")
	// ErrRevoked means the key was issued and later revoked.
	ErrRevoked = errors.New("API key revoked")
	// ErrInvalid means a Create argument is not acceptable.
	ErrInvalid = errors.New("invalid API key request")
)

const (
	secretLen  = 40
	prefixLen  = 4 // secret characters shown in listings
	base62     = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	maxNameLen = 200
)

// Key is what the service knows about an API key: everything but the key.
type Key struct {
	// ID names the key in listings and in revoke ("key_" and a ULID); it is
	// the requester recorded on the jobs the key starts.
	ID       string      `json:"id"`
	Customer string      `json:"customer"`
	Mode     events.Mode `json:"mode"`
	// Tenant is TenantOf(Customer, Mode): the namespace the key reaches.
	Tenant events.Tenant `json:"tenant"`
	// Prefix is the start of the plain key ("clk_test_AbCd"), to recognise it.
	Prefix    string     `json:"prefix"`
	Name      string     `json:"name,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
}

// Keys stores API keys in a KV bucket. Create it with [New].
type Keys struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// New returns Keys on the API key bucket kv; now is the clock (time.Now
// when nil).
func New(kv jetstream.KeyValue, now func() time.Time) *Keys {
	if now == nil {
		now = time.Now
	}
	return &Keys{kv: kv, now: now}
}

// Create issues a new key for customer in mode and returns the plain key,
// which is not kept anywhere and cannot be shown again.
func (k *Keys) Create(ctx context.Context, customer string, mode events.Mode, name string) (string, Key, error) {
	var errs []error
	if !events.ValidCustomer(customer) {
		errs = append(errs, fmt.Errorf("customer %q: want lower-case letters, digits and hyphens, at most 40", customer))
	}
	if mode != events.ModeTest && mode != events.ModeLive {
		errs = append(errs, fmt.Errorf("mode %q: want %q or %q", mode, events.ModeTest, events.ModeLive))
	}
	if len(name) > maxNameLen {
		errs = append(errs, fmt.Errorf("name: at most %d bytes", maxNameLen))
	}
	if err := errors.Join(errs...); err != nil {
		return "", Key{}, fmt.Errorf("create key: %w: %w", ErrInvalid, err)
	}
	secret := make([]byte, secretLen)
	for i := range secret {
		secret[i] = base62[randIndex(len(base62))]
	}
	plain := "clk_" + string(mode) + "_" + string(secret)
	now := k.now().UTC()
	key := Key{
		ID:       "key_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String(),
		Customer: customer, Mode: mode, Tenant: events.TenantOf(customer, mode),
		Prefix: plain[:len(plain)-secretLen+prefixLen], Name: name, CreatedAt: now,
	}
	b, err := json.Marshal(key)
	if err != nil {
		return "", Key{}, fmt.Errorf("create key: %w", err)
	}
	if _, err := k.kv.Create(ctx, hash(plain), b); err != nil {
		return "", Key{}, fmt.Errorf("create key: %w", err)
	}
	return plain, key, nil
}

// Authenticate returns the key whose plain form is plain: [ErrUnknown] when
// there is none (or plain is not shaped like a key), [ErrRevoked] when it was
// revoked. Other errors mean the bucket could not be read.
func (k *Keys) Authenticate(ctx context.Context, plain string) (Key, error) {
	if !wellFormed(plain) {
		return Key{}, ErrUnknown
	}
	entry, err := k.kv.Get(ctx, hash(plain))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Key{}, ErrUnknown
	}
	if err != nil {
		return Key{}, fmt.Errorf("authenticate: %w", err)
	}
	key, err := decode(entry.Value())
	if err != nil {
		return Key{}, fmt.Errorf("authenticate: %w", err)
	}
	if key.RevokedAt != nil {
		return key, ErrRevoked
	}
	return key, nil
}

// List returns the keys of customer, or of every customer when customer is
// "", oldest first, revoked ones included.
func (k *Keys) List(ctx context.Context, customer string) ([]Key, error) {
	entries, err := k.all(ctx)
	if err != nil {
		return nil, err
	}
	var out []Key
	for _, e := range entries {
		if customer == "" || e.key.Customer == customer {
			out = append(out, e.key)
		}
	}
	slices.SortFunc(out, func(a, b Key) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Revoke marks the key with id revoked; requests with it answer 401 from
// then on. Revoking a revoked key changes nothing. An id that names no key
// is [ErrUnknown].
func (k *Keys) Revoke(ctx context.Context, id string) error {
	entries, err := k.all(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(entries, func(e entry) bool { return e.key.ID == id })
	if i < 0 {
		return fmt.Errorf("revoke %q: %w", id, ErrUnknown)
	}
	e := entries[i]
	if e.key.RevokedAt != nil {
		return nil
	}
	now := k.now().UTC()
	e.key.RevokedAt = &now
	b, err := json.Marshal(e.key)
	if err != nil {
		return fmt.Errorf("revoke %s: %w", id, err)
	}
	if _, err := k.kv.Update(ctx, e.hash, b, e.revision); err != nil {
		return fmt.Errorf("revoke %s: %w", id, err)
	}
	return nil
}

type entry struct {
	hash     string
	revision uint64
	key      Key
}

// all reads every key record. The bucket holds one small record per key
// issued, so a scan is cheap next to how rarely keys are listed or revoked.
func (k *Keys) all(ctx context.Context) ([]entry, error) {
	lister, err := k.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	var names []string
	for name := range lister.Keys() {
		names = append(names, name)
	}
	var out []entry
	for _, name := range names {
		e, err := k.kv.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		key, err := decode(e.Value())
		if err != nil {
			return nil, fmt.Errorf("list keys: %s: %w", name, err)
		}
		out = append(out, entry{hash: name, revision: e.Revision(), key: key})
	}
	return out, nil
}

func decode(b []byte) (Key, error) {
	var key Key
	if err := json.Unmarshal(b, &key); err != nil {
		return Key{}, fmt.Errorf("malformed key record: %w", err)
	}
	return key, nil
}

func hash(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// wellFormed reports whether s has the shape of a key this package issues,
// so that garbage is turned away without a bucket read.
func wellFormed(s string) bool {
	rest, ok := strings.CutPrefix(s, "clk_test_")
	if !ok {
		if rest, ok = strings.CutPrefix(s, "clk_live_"); !ok {
			return false
		}
	}
	if len(rest) != secretLen {
		return false
	}
	for i := range len(rest) {
		if strings.IndexByte(base62, rest[i]) < 0 {
			return false
		}
	}
	return true
}

// randIndex returns a uniform random number in [0, n) for n <= 256.
func randIndex(n int) int {
	limit := 256 - 256%n
	b := make([]byte, 1)
	for {
		rand.Read(b)
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}
