package signing

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Errors returned by [Signer.Verify]. Callers answer both with 403 and say
// which one it was.
var (
	// ErrBadSignature means the URL was not signed by any key this service
	// knows, or was changed after it was signed.
	ErrBadSignature = errors.New("bad signature")
	// ErrExpired means the URL is genuine but its lifetime has passed.
	ErrExpired = errors.New("link expired")
)

const (
	currentKey = "current"
	keyPrefix  = "key."
	secretSize = 32
	// lookupTimeout bounds the bucket read that fetches a key another
	// gateway created after this one loaded its keys.
	lookupTimeout = 2 * time.Second
)

var kidRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// key is one signing key as stored in the bucket under "key.<kid>".
type key struct {
	ID        string    `json:"kid"`
	Secret    []byte    `json:"secret"`
	CreatedAt time.Time `json:"createdAt"`
}

// Signer signs paths with the current key and verifies them with any key in
// the bucket. Create it with [New].
type Signer struct {
	kv  jetstream.KeyValue
	now func() time.Time

	mu      sync.RWMutex
	current key
	keys    map[string]key
}

// New returns a Signer on the signing bucket kv. It loads the current key,
// creating the first one if the bucket is empty; several processes starting
// at once agree on one key. now is the clock (time.Now when nil).
func New(ctx context.Context, kv jetstream.KeyValue, now func() time.Time) (*Signer, error) {
	if now == nil {
		now = time.Now
	}
	s := &Signer{kv: kv, now: now, keys: map[string]key{}}
	for range 3 {
		entry, err := kv.Get(ctx, currentKey)
		if err == nil {
			k, err := s.load(ctx, string(entry.Value()))
			if err != nil {
				return nil, fmt.Errorf("load current signing key: %w", err)
			}
			s.setCurrent(k)
			return s, nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("load signing key: %w", err)
		}
		k, err := s.create(ctx)
		if err != nil {
			return nil, fmt.Errorf("create signing key: %w", err)
		}
		_, err = kv.Create(ctx, currentKey, []byte(k.ID))
		if err == nil {
			s.setCurrent(k)
			return s, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("store current signing key: %w", err)
		}
		// Another gateway made the first key at the same moment: use its.
		s.mu.Lock()
		s.keys[k.ID] = k
		s.mu.Unlock()
	}
	return nil, errors.New("load signing key: the current key keeps changing")
}

// Rotate creates a new key and makes it the one this Signer, and every
// Signer created afterwards, signs with. URLs signed with older keys stay
// valid until they expire.
func (s *Signer) Rotate(ctx context.Context) error {
	entry, err := s.kv.Get(ctx, currentKey)
	if err != nil {
		return fmt.Errorf("rotate signing key: %w", err)
	}
	k, err := s.create(ctx)
	if err != nil {
		return fmt.Errorf("rotate signing key: %w", err)
	}
	if _, err := s.kv.Update(ctx, currentKey, []byte(k.ID), entry.Revision()); err != nil {
		return fmt.Errorf("rotate signing key: %w", err)
	}
	s.setCurrent(k)
	return nil
}

// KeyID returns the id of the key s signs with.
func (s *Signer) KeyID() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.current.ID
}

// Sign returns path with the query that makes it a signed URL valid until
// exp (to the second): path + "?exp=...&kid=...&sig=...". path must not
// carry a query of its own.
func (s *Signer) Sign(path string, exp time.Time) string {
	s.mu.RLock()
	k := s.current
	s.mu.RUnlock()
	e := strconv.FormatInt(exp.Unix(), 10)
	return path + "?exp=" + e + "&kid=" + k.ID + "&sig=" + mac(k.Secret, path, e, k.ID)
}

// Verify checks the exp, kid and sig parameters q of a request for path. It
// returns nil for a URL signed by a known key and not yet expired,
// [ErrBadSignature] (wrapped, with the reason) for a missing, malformed or
// altered signature, and [ErrExpired] for a genuine one past its time. Any
// other error means the signing bucket could not be read.
func (s *Signer) Verify(path string, q url.Values) error {
	e, kid, sig := q.Get("exp"), q.Get("kid"), q.Get("sig")
	if e == "" || kid == "" || sig == "" {
		return fmt.Errorf("%w: the link needs its exp, kid and sig parameters", ErrBadSignature)
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: exp is not a Unix time", ErrBadSignature)
	}
	k, err := s.key(kid)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(sig), []byte(mac(k.Secret, path, e, kid))) {
		return fmt.Errorf("%w: the link was altered", ErrBadSignature)
	}
	if s.now().Unix() > exp {
		return fmt.Errorf("%w at %s", ErrExpired, time.Unix(exp, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

func mac(secret []byte, path, exp, kid string) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(path + "?exp=" + exp + "&kid=" + kid))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// key returns the key kid, reading the bucket for one created elsewhere.
func (s *Signer) key(kid string) (key, error) {
	if !kidRE.MatchString(kid) {
		return key{}, fmt.Errorf("%w: unknown key id", ErrBadSignature)
	}
	s.mu.RLock()
	k, ok := s.keys[kid]
	s.mu.RUnlock()
	if ok {
		return k, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	k, err := s.load(ctx, kid)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return key{}, fmt.Errorf("%w: unknown key id", ErrBadSignature)
	}
	if err != nil {
		return key{}, err
	}
	s.mu.Lock()
	s.keys[kid] = k
	s.mu.Unlock()
	return k, nil
}

func (s *Signer) load(ctx context.Context, kid string) (key, error) {
	entry, err := s.kv.Get(ctx, keyPrefix+kid)
	if err != nil {
		return key{}, fmt.Errorf("signing key %s: %w", kid, err)
	}
	var k key
	if err := json.Unmarshal(entry.Value(), &k); err != nil || len(k.Secret) < secretSize {
		return key{}, fmt.Errorf("signing key %s: malformed entry", kid)
	}
	return k, nil
}

// create makes a new key and stores it; it is not yet the current one.
func (s *Signer) create(ctx context.Context) (key, error) {
	id := make([]byte, 8)
	secret := make([]byte, secretSize)
	rand.Read(id)
	rand.Read(secret)
	k := key{ID: hex.EncodeToString(id), Secret: secret, CreatedAt: s.now().UTC()}
	b, err := json.Marshal(k)
	if err != nil {
		return key{}, err
	}
	if _, err := s.kv.Create(ctx, keyPrefix+k.ID, b); err != nil {
		return key{}, err
	}
	return k, nil
}

func (s *Signer) setCurrent(k key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current = k
	s.keys[k.ID] = k
}
