package smart

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names of the KV buckets the SMART authorization keeps its state in, shared
// by every gateway.
const (
	// BucketClients holds registered clients, key = client id.
	BucketClients = "smart_clients"
	// BucketJTIs holds the jti of every accepted client assertion, key =
	// SHA-256 of client id and jti, until the assertion could no longer be
	// used anyway: a second use of a jti is a replay.
	BucketJTIs = "smart_jtis"
	// BucketTokens holds issued access tokens, key = SHA-256 of the token;
	// the plain token is never stored.
	BucketTokens = "smart_tokens"
)

// Bounds that size the buckets: nothing is kept longer than it can matter.
const (
	// MaxAssertionLifetime is how far in the future a client assertion's
	// exp may be (SMART Backend Services: at most five minutes).
	MaxAssertionLifetime = 5 * time.Minute
	// MaxTokenTTL is the longest access token lifetime a [Config] allows.
	MaxTokenTTL = time.Hour
	// jtiRetention covers an assertion's whole life plus the clock skew.
	jtiRetention = MaxAssertionLifetime + 5*time.Minute
)

// Stores are the buckets of the SMART authorization.
type Stores struct {
	Clients jetstream.KeyValue
	JTIs    jetstream.KeyValue
	Tokens  jetstream.KeyValue
}

// Setup creates or updates the buckets with replicas replicas (0 means 1)
// and returns them. It is safe to call from several processes at once.
func Setup(ctx context.Context, js jetstream.JetStream, replicas int) (*Stores, error) {
	replicas = max(replicas, 1)
	cfgs := []jetstream.KeyValueConfig{
		{Bucket: BucketClients, Description: "SMART Backend Services clients", History: 1,
			Storage: jetstream.FileStorage, Replicas: replicas},
		{Bucket: BucketJTIs, Description: "client assertion ids already used", History: 1,
			TTL: jtiRetention, Storage: jetstream.FileStorage, Replicas: replicas},
		{Bucket: BucketTokens, Description: "SMART access tokens by hash", History: 1,
			TTL: MaxTokenTTL, Storage: jetstream.FileStorage, Replicas: replicas},
	}
	kvs := make([]jetstream.KeyValue, len(cfgs))
	for i, c := range cfgs {
		kv, err := js.CreateOrUpdateKeyValue(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("set up bucket %s: %w", c.Bucket, err)
		}
		kvs[i] = kv
	}
	return &Stores{Clients: kvs[0], JTIs: kvs[1], Tokens: kvs[2]}, nil
}

// ErrNotSetUp is returned by [Open] when no gateway has created the buckets.
var ErrNotSetUp = errors.New("the SMART buckets do not exist; start `jetexport serve` or `jetexport gateway` once")

// Open binds to buckets a gateway already created, changing nothing: what a
// command-line tool uses.
func Open(ctx context.Context, js jetstream.JetStream) (*Stores, error) {
	var s Stores
	for _, b := range []struct {
		name string
		kv   *jetstream.KeyValue
	}{{BucketClients, &s.Clients}, {BucketJTIs, &s.JTIs}, {BucketTokens, &s.Tokens}} {
		kv, err := js.KeyValue(ctx, b.name)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, ErrNotSetUp
		}
		if err != nil {
			return nil, fmt.Errorf("open bucket %s: %w", b.name, err)
		}
		*b.kv = kv
	}
	return &s, nil
}
