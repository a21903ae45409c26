package smart

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The signature algorithms a client assertion may use (SMART Backend
// Services requires servers to support both).
const (
	AlgRS384 = string(jose.RS384)
	AlgES384 = string(jose.ES384)
)

// Algorithms lists the accepted assertion algorithms.
var Algorithms = []jose.SignatureAlgorithm{jose.RS384, jose.ES384}

// ErrInvalidJWKS is wrapped by the errors of [ParseJWKS].
var ErrInvalidJWKS = errors.New("invalid JWKS")

const (
	minRSABits = 2048
	// maxJWKSBytes bounds a key set, inline or fetched.
	maxJWKSBytes = 64 << 10
)

// ParseJWKS reads a JSON Web Key Set of public keys a client signs its
// assertions with: RSA keys of at least 2048 bits (RS384) and EC P-384 keys
// (ES384). Private keys are refused, so a private key is never stored by
// mistake; keys meant for encryption are skipped. It returns the usable keys.
func ParseJWKS(b []byte) ([]jose.JSONWebKey, error) {
	if len(b) > maxJWKSBytes {
		return nil, fmt.Errorf("%w: %d bytes; at most %d", ErrInvalidJWKS, len(b), maxJWKSBytes)
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
		Kty  string            `json:"kty"`
		D    string            `json:"d"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object with a \"keys\" array: %v", ErrInvalidJWKS, err)
	}
	switch {
	case raw.Keys == nil && raw.D != "":
		return nil, fmt.Errorf("%w: this is a private key (a single JWK); register the public key set instead, {\"keys\":[<public JWK>]}", ErrInvalidJWKS)
	case raw.Keys == nil && raw.Kty != "":
		return nil, fmt.Errorf("%w: this is a single JWK; wrap its public form in a key set, {\"keys\":[...]}", ErrInvalidJWKS)
	}
	var keys []jose.JSONWebKey
	var errs []error
	for i, r := range raw.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(r); err != nil {
			errs = append(errs, fmt.Errorf("%w: keys[%d]: %v", ErrInvalidJWKS, i, err))
			continue
		}
		if !k.IsPublic() {
			errs = append(errs, fmt.Errorf("%w: keys[%d] (kid %q) holds a private key; register only its public half", ErrInvalidJWKS, i, k.KeyID))
			continue
		}
		if k.Use == "enc" {
			continue
		}
		if err := checkKey(k); err != nil {
			errs = append(errs, fmt.Errorf("%w: keys[%d] (kid %q): %v", ErrInvalidJWKS, i, k.KeyID, err))
			continue
		}
		keys = append(keys, k)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no signing key; give at least one RSA (RS384) or EC P-384 (ES384) public key", ErrInvalidJWKS)
	}
	return keys, nil
}

// checkKey accepts the key types and sizes the algorithms need.
func checkKey(k jose.JSONWebKey) error {
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if k.Algorithm != "" && k.Algorithm != AlgRS384 {
			return fmt.Errorf("an RSA key for %s; this server verifies RS384", k.Algorithm)
		}
		if pub.N.BitLen() < minRSABits {
			return fmt.Errorf("an RSA key of %d bits; at least %d are required", pub.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P384() {
			return fmt.Errorf("an EC key on %s; ES384 needs P-384", pub.Curve.Params().Name)
		}
		if k.Algorithm != "" && k.Algorithm != AlgES384 {
			return fmt.Errorf("an EC P-384 key for %s; this server verifies ES384", k.Algorithm)
		}
	default:
		return fmt.Errorf("a %T key; want RSA (RS384) or EC P-384 (ES384)", k.Key)
	}
	return nil
}

// keyCache fetches and caches the key sets of clients registered with a
// jwks_uri. It is safe for concurrent use.
type keyCache struct {
	client *http.Client
	ttl    time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]cachedKeys
}

type cachedKeys struct {
	keys    []jose.JSONWebKey
	fetched time.Time
}

// refetchAfter keeps an unknown kid from making every request fetch again.
const refetchAfter = 10 * time.Second

func newKeyCache(client *http.Client, ttl time.Duration, now func() time.Time) *keyCache {
	return &keyCache{client: client, ttl: ttl, now: now, entries: map[string]cachedKeys{}}
}

// keys returns the key set at url, from the cache while it is fresh and
// holds kid (any key when kid is ""); otherwise fetched again.
func (c *keyCache) keys(ctx context.Context, url, kid string) ([]jose.JSONWebKey, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[url]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < c.ttl && (hasKid(e.keys, kid) || now.Sub(e.fetched) < refetchAfter) {
		return e.keys, nil
	}
	keys, err := c.fetch(ctx, url)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.entries[url] = cachedKeys{keys: keys, fetched: now}
	c.mu.Unlock()
	return keys, nil
}

func (c *keyCache) fetch(ctx context.Context, url string) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWKS %s: status %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS %s: %w", url, err)
	}
	keys, err := ParseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("JWKS at %s: %w", url, err)
	}
	return keys, nil
}

func hasKid(keys []jose.JSONWebKey, kid string) bool {
	if kid == "" {
		return len(keys) > 0
	}
	for _, k := range keys {
		if k.KeyID == kid {
			return true
		}
	}
	return false
}
