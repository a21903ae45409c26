package smart_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/natstest"
	"github.com/jetexport/jetexport/internal/smart"
)

const tokenURL = "https://fhir.example.com/auth/token"

// clock is a settable clock shared by the server and the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// newServer starts an embedded NATS server and returns a Server on fresh
// buckets and its clock.
func newServer(tb testing.TB, cfg smart.Config) (*smart.Server, *clock) {
	tb.Helper()
	_, js := natstest.Connect(tb, natstest.Server(tb))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stores, err := smart.Setup(ctx, js, 1)
	if err != nil {
		tb.Fatalf("setup: %v", err)
	}
	clk := &clock{t: time.Now()}
	s, err := smart.New(cfg, smart.Deps{Stores: stores, Now: clk.Now})
	if err != nil {
		tb.Fatalf("new server: %v", err)
	}
	return s, clk
}

// keyPair generates a key for alg.
func keyPair(tb testing.TB, alg string) smart.KeyPair {
	tb.Helper()
	kp, err := smart.GenerateKey(alg)
	if err != nil {
		tb.Fatal(err)
	}
	return kp
}

// register registers a client of tenant acme_test with kp's public keys.
func register(tb testing.TB, s *smart.Server, kp smart.KeyPair, scope string) smart.Client {
	tb.Helper()
	c, err := s.Registry().Register(context.Background(), smart.Registration{
		Tenant: events.TenantOf("acme", events.ModeTest), Name: tb.Name(), Scope: scope, JWKS: kp.PublicJWKS})
	if err != nil {
		tb.Fatalf("register: %v", err)
	}
	return c
}

// claims returns valid assertion claims for clientID at now.
func claims(clientID string, now time.Time) jwt.Claims {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return jwt.Claims{Issuer: clientID, Subject: clientID, Audience: jwt.Audience{tokenURL},
		Expiry: jwt.NewNumericDate(now.Add(4 * time.Minute)), ID: base64.RawURLEncoding.EncodeToString(b[:])}
}

// sign signs c with kp's private key; extra headers are added.
func sign(tb testing.TB, kp smart.KeyPair, c jwt.Claims, extra map[string]any) string {
	tb.Helper()
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(kp.PrivateJWK); err != nil {
		tb.Fatal(err)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", jwk.KeyID)
	for k, v := range extra {
		opts = opts.WithHeader(jose.HeaderKey(k), v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(jwk.Algorithm), Key: jwk.Key}, opts)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// request is a token request carrying assertion.
func request(assertion, scope string) smart.TokenRequest {
	return smart.TokenRequest{GrantType: smart.GrantClientCredentials, AssertionType: smart.AssertionTypeJWTBearer,
		Assertion: assertion, Scope: scope, TokenURL: tokenURL}
}
