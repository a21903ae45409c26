package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
)

// Config sizes the JetStream assets. The zero value is completed by
// [Config.withDefaults]; see the field comments for the defaults.
type Config struct {
	// Replicas of every stream and bucket: 1 on a single server, 3 in a cluster.
	Replicas int
	// Retention is how long export files are kept (default 24h). It should
	// be at least the lifetime of a download URL (the app checks that).
	Retention time.Duration
	// EventMaxAge is how long the BULK log keeps events (default 30 days).
	// It must be longer than Retention so every live job can be rebuilt.
	EventMaxAge time.Duration
	// DuplicateWindow is how long a re-published event is recognised and
	// dropped by its Nats-Msg-Id (default 10 minutes).
	DuplicateWindow time.Duration
	// FHIRHistory is how many versions of each record the fhir bucket keeps
	// (default 8): an export reads each record as of its snapshot, which
	// works while the record was updated fewer times than this during it.
	FHIRHistory uint8
}

func (c Config) withDefaults() Config {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Retention == 0 {
		c.Retention = 24 * time.Hour
	}
	if c.EventMaxAge == 0 {
		c.EventMaxAge = 30 * 24 * time.Hour
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = 10 * time.Minute
	}
	if c.FHIRHistory == 0 {
		c.FHIRHistory = 8
	}
	return c
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas %d: want 1 to 5", c.Replicas))
	}
	if c.Retention < 0 {
		errs = append(errs, errors.New("retention must not be negative"))
	}

	if c.FHIRHistory > 64 {
		errs = append(errs, fmt.Errorf("fhir history %d: the server allows at most 64", c.FHIRHistory))
	}
	return errors.Join(errs...)
}

// Assets are handles on the JetStream assets, all created by [Setup].
type Assets struct {
	JS       jetstream.JetStream
	Stream   jetstream.Stream
	Jobs     jetstream.KeyValue
	FHIR     jetstream.KeyValue
	APIKeys  jetstream.KeyValue
	Webhooks jetstream.KeyValue
	Signing  jetstream.KeyValue
	Exports  jetstream.ObjectStore
	Config   Config
}

// FHIRStream is the name of the stream behind the fhir bucket.
const FHIRStream = "KV_" + events.BucketFHIR

// Connect opens a connection named name to url, retrying the first connect
// until ctx ends, and returns it with its JetStream handle.
func Connect(ctx context.Context, url, name string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	opts = append([]nats.Option{nats.Name(name), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond)}, opts...)
	var lastErr error
	for {
		nc, err := nats.Connect(url, opts...)
		if err == nil {
			js, err := jetstream.New(nc)
			if err != nil {
				nc.Close()
				return nil, nil, fmt.Errorf("jetstream: %w", err)
			}
			return nc, js, nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("connect %s: %w", url, lastErr)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Setup creates or updates every asset jetexport uses and returns handles on
// them. It is safe to call from several processes at once.
func Setup(ctx context.Context, js jetstream.JetStream, cfg Config) (*Assets, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("broker config: %w", err)
	}
	cfg = cfg.withDefaults()
	a := &Assets{JS: js, Config: cfg}
	var err error
	a.Stream, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        events.StreamBulk,
		Description: "jetexport job events: the log every job state is folded from",
		Subjects:    []string{events.AllSubjects},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		MaxAge:      cfg.EventMaxAge,
		Duplicates:  cfg.DuplicateWindow,
		AllowDirect: true,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", events.StreamBulk, err)
	}
	kv := func(name, desc string, history uint8) (jetstream.KeyValue, error) {
		b, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: name, Description: desc, History: history,
			Storage: jetstream.FileStorage, Replicas: cfg.Replicas,
		})
		if err != nil {
			return nil, fmt.Errorf("create bucket %s: %w", name, err)
		}
		return b, nil
	}
	if a.Jobs, err = kv(events.BucketJobs, "job documents, folded from BULK by the projector", 1); err != nil {
		return nil, err
	}
	if a.FHIR, err = kv(events.BucketFHIR, "clinical records by tenant, type and id", cfg.FHIRHistory); err != nil {
		return nil, err
	}
	if err := allowAtomic(ctx, js, FHIRStream); err != nil {
		return nil, err
	}
	if a.APIKeys, err = kv(events.BucketAPIKeys, "API keys by SHA-256 of the key", 1); err != nil {
		return nil, err
	}
	if a.Webhooks, err = kv(events.BucketWebhooks, "webhook subscriptions by tenant", 1); err != nil {
		return nil, err
	}
	if a.Signing, err = kv(events.BucketSigning, "download URL signing keys", 1); err != nil {
		return nil, err
	}
	a.Exports, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      events.ObjectStoreExports,
		Description: "NDJSON export output",
		TTL:         cfg.Retention,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("create object store %s: %w", events.ObjectStoreExports, err)
	}
	return a, nil
}

// allowAtomic turns on atomic batch publish on a stream, so that a FHIR
// transaction Bundle is stored all or nothing.
func allowAtomic(ctx context.Context, js jetstream.JetStream, stream string) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	cfg := s.CachedInfo().Config
	if cfg.AllowAtomicPublish {
		return nil
	}
	cfg.AllowAtomicPublish = true
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("allow atomic publish on %s: %w", stream, err)
	}
	return nil
}

// ErrNotSetUp is returned by [Open] when the server has no jetexport assets.
var ErrNotSetUp = errors.New("jetexport is not set up on this NATS server (start `jetexport serve`, or a gateway, against it first)")

// Open binds to the assets a service already set up, changing nothing: a
// client tool (keys, projections) must not reset a cluster's replicas,
// retention or limits to its own defaults, as [Setup] would.
func Open(ctx context.Context, js jetstream.JetStream) (*Assets, error) {
	a := &Assets{JS: js}
	var err error
	if a.Stream, err = js.Stream(ctx, events.StreamBulk); err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, ErrNotSetUp
		}
		return nil, fmt.Errorf("open stream %s: %w", events.StreamBulk, err)
	}
	kv := func(name string) (jetstream.KeyValue, error) {
		b, err := js.KeyValue(ctx, name)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, ErrNotSetUp
		}
		if err != nil {
			return nil, fmt.Errorf("open bucket %s: %w", name, err)
		}
		return b, nil
	}
	for name, dst := range map[string]*jetstream.KeyValue{events.BucketJobs: &a.Jobs, events.BucketFHIR: &a.FHIR,
		events.BucketAPIKeys: &a.APIKeys, events.BucketWebhooks: &a.Webhooks, events.BucketSigning: &a.Signing} {
		if *dst, err = kv(name); err != nil {
			return nil, err
		}
	}
	if a.Exports, err = js.ObjectStore(ctx, events.ObjectStoreExports); err != nil {
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, ErrNotSetUp
		}
		return nil, fmt.Errorf("open object store %s: %w", events.ObjectStoreExports, err)
	}
	cfg := a.Stream.CachedInfo().Config
	a.Config = Config{Replicas: cfg.Replicas, EventMaxAge: cfg.MaxAge, DuplicateWindow: cfg.Duplicates}
	if st, err := a.Exports.Status(ctx); err == nil {
		a.Config.Retention = st.TTL()
	}
	return a, nil
}
