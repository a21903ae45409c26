package smart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/jetexport/jetexport/events"
)

// Errors of the [Registry].
var (
	// ErrInvalidClient wraps every problem with a registration.
	ErrInvalidClient = errors.New("invalid client registration")
	// ErrUnknownClient: no client has this id (for this tenant).
	ErrUnknownClient = errors.New("unknown client")
)

// Client is a registered SMART Backend Services client: a tenant's system
// that authenticates with a key pair whose public keys jetexport holds,
// inline or behind a URL it fetches.
type Client struct {
	ID     string        `json:"clientId"`
	Tenant events.Tenant `json:"tenant"`
	Name   string        `json:"name,omitempty"`
	// Scope lists the scopes the client may ask for (space-separated).
	Scope string `json:"scope"`
	// JWKS is the inline public key set; JWKSURL the jwks_uri instead.
	JWKS      json.RawMessage `json:"jwks,omitempty"`
	JWKSURL   string          `json:"jwksUrl,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
	RevokedAt *time.Time      `json:"revokedAt,omitempty"`
}

// KeyIDs returns the kid of each inline key (none for a jwks_uri client).
func (c Client) KeyIDs() []string {
	keys, err := ParseJWKS(c.JWKS)
	if err != nil {
		return nil
	}
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		ids = append(ids, k.KeyID)
	}
	return ids
}

// Registration is what registering a client takes.
type Registration struct {
	Tenant events.Tenant
	Name   string
	// Scope is the space-separated scopes the client may ask for, such as
	// "system/*.read".
	Scope string
	// JWKS (a key set document) or JWKSURL (an http(s) URL serving one):
	// exactly one is required.
	JWKS    []byte
	JWKSURL string
}

const maxClientName = 200

// Registry stores clients in the [BucketClients] bucket. It is safe for
// concurrent use; every gateway and the command line share the bucket.
type Registry struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// NewRegistry returns the registry on kv; now is the clock (time.Now when
// nil).
func NewRegistry(kv jetstream.KeyValue, now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{kv: kv, now: now}
}

// Register checks reg and stores a new client with a fresh id. Problems
// with reg are joined in one error wrapping [ErrInvalidClient].
func (r *Registry) Register(ctx context.Context, reg Registration) (Client, error) {
	c, err := r.check(reg)
	if err != nil {
		return Client{}, err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return Client{}, fmt.Errorf("register client: %w", err)
	}
	if _, err := r.kv.Create(ctx, c.ID, b); err != nil {
		return Client{}, fmt.Errorf("register client: %w", err)
	}
	return c, nil
}

// check validates reg and returns the client it describes.
func (r *Registry) check(reg Registration) (Client, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidClient}, args...)...))
	}
	if !reg.Tenant.Valid() {
		bad("tenant %q is not <customer>_<test|live>", reg.Tenant)
	}
	if len(reg.Name) > maxClientName || !utf8.ValidString(reg.Name) {
		bad("the name must be UTF-8 text of at most %d bytes", maxClientName)
	}
	scopes, err := ParseScopes(reg.Scope)
	if err != nil {
		bad("scope: %v", err)
	}
	c := Client{ID: "cli_" + ulid.Make().String(), Tenant: reg.Tenant, Name: strings.TrimSpace(reg.Name),
		Scope: scopes.String(), CreatedAt: r.now().UTC()}
	inline := len(bytes.TrimSpace(reg.JWKS)) > 0
	switch {
	case inline && reg.JWKSURL != "":
		bad("give the public keys inline (jwks) or by URL (jwksUrl), not both")
	case inline:
		if _, err := ParseJWKS(reg.JWKS); err != nil {
			bad("jwks: %v", err)
		} else {
			var compact bytes.Buffer
			if err := json.Compact(&compact, reg.JWKS); err != nil {
				bad("jwks: %v", err)
			}
			c.JWKS = compact.Bytes()
		}
	case reg.JWKSURL != "":
		if err := checkJWKSURL(reg.JWKSURL); err != nil {
			bad("jwksUrl: %v", err)
		}
		c.JWKSURL = reg.JWKSURL
	default:
		bad("the client's public keys are required: a JWKS document (jwks) or its URL (jwksUrl)")
	}
	if len(errs) > 0 {
		return Client{}, errors.Join(errs...)
	}
	return c, nil
}

// checkJWKSURL accepts absolute http(s) URLs without credentials.
func checkJWKSURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return fmt.Errorf("%s is not an absolute http(s) URL", quote(s))
	case u.User != nil:
		return fmt.Errorf("%s must not carry credentials", quote(s))
	case len(s) > 2048:
		return errors.New("longer than 2048 characters")
	}
	return nil
}

// Get returns the client with id, revoked or not; [ErrUnknownClient] when
// there is none.
func (r *Registry) Get(ctx context.Context, id string) (Client, error) {
	c, _, err := r.get(ctx, id)
	return c, err
}

// get returns the client with id and the revision it was read at.
func (r *Registry) get(ctx context.Context, id string) (Client, uint64, error) {
	if !validClientID(id) {
		return Client{}, 0, ErrUnknownClient
	}
	e, err := r.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Client{}, 0, ErrUnknownClient
	}
	if err != nil {
		return Client{}, 0, fmt.Errorf("read client %s: %w", id, err)
	}
	var c Client
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		return Client{}, 0, fmt.Errorf("read client %s: %w", id, err)
	}
	return c, e.Revision(), nil
}

// List returns the clients of tenant (every tenant's when tenant is ""),
// oldest first.
func (r *Registry) List(ctx context.Context, tenant events.Tenant) ([]Client, error) {
	lister, err := r.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	var out []Client
	for id := range lister.Keys() {
		c, err := r.Get(ctx, id)
		if errors.Is(err, ErrUnknownClient) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		if tenant == "" || c.Tenant == tenant {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Client) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Revoke marks tenant's client id revoked: it gets no more tokens (tokens
// already issued live out their few minutes). Another tenant's client is
// [ErrUnknownClient]; revoking twice is not an error.
func (r *Registry) Revoke(ctx context.Context, tenant events.Tenant, id string) (Client, error) {
	for {
		c, rev, err := r.get(ctx, id)
		if err != nil {
			return Client{}, err
		}
		if tenant != "" && c.Tenant != tenant {
			return Client{}, ErrUnknownClient
		}
		if c.RevokedAt != nil {
			return c, nil
		}
		now := r.now().UTC()
		c.RevokedAt = &now
		b, err := json.Marshal(c)
		if err != nil {
			return Client{}, fmt.Errorf("revoke client %s: %w", id, err)
		}
		if _, err := r.kv.Update(ctx, id, b, rev); errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // changed meanwhile: read it again
		} else if err != nil {
			return Client{}, fmt.Errorf("revoke client %s: %w", id, err)
		}
		return c, nil
	}
}

// validClientID accepts ids as Register mints them, so that no other
// string reaches the bucket as a key.
func validClientID(id string) bool {
	rest, ok := strings.CutPrefix(id, "cli_")
	if !ok || len(rest) != 26 {
		return false
	}
	_, err := ulid.ParseStrict(rest)
	return err == nil
}
