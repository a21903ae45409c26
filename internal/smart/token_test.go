package smart_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/smart"
)

func TestIssue(t *testing.T) {
	s, clk := newServer(t, smart.Config{})
	es := keyPair(t, smart.AlgES384)
	rs := keyPair(t, smart.AlgRS384)
	other := keyPair(t, smart.AlgES384)
	esClient := register(t, s, es, "system/*.read")
	rsClient := register(t, s, rs, "system/Patient.read system/Observation.rs")
	revoked := register(t, s, es, "system/*.read")
	if _, err := s.Registry().Revoke(context.Background(), "", revoked.ID); err != nil {
		t.Fatal(err)
	}
	replayed := sign(t, es, claims(esClient.ID, clk.Now()), nil)
	if _, err := s.Issue(context.Background(), request(replayed, "system/*.rs")); err != nil {
		t.Fatalf("first use of the assertion: %v", err)
	}
	now := clk.Now()
	tests := []struct {
		name      string
		req       smart.TokenRequest
		wantCode  string // "" for success
		wantScope string
		mention   string
	}{
		{name: "ES384 v2 scope", req: request(sign(t, es, claims(esClient.ID, now), nil), "system/*.rs"), wantScope: "system/*.rs"},
		{name: "ES384 v1 scope", req: request(sign(t, es, claims(esClient.ID, now), nil), "system/*.read"), wantScope: "system/*.read"},
		{name: "RS384 two scopes", req: request(sign(t, rs, claims(rsClient.ID, now), nil), "system/Patient.rs system/Observation.rs"),
			wantScope: "system/Patient.rs system/Observation.rs"},
		{name: "helper assertion", req: request(mustAssertion(t, es, esClient.ID, now), "system/Patient.read"), wantScope: "system/Patient.read"},
		{name: "aud array", req: request(sign(t, es, with(claims(esClient.ID, now), func(c *jwt.Claims) { c.Audience = jwt.Audience{"x", tokenURL} }), nil), "system/*.rs"),
			wantScope: "system/*.rs"},
		{name: "wrong aud", req: request(sign(t, es, with(claims(esClient.ID, now), func(c *jwt.Claims) { c.Audience = jwt.Audience{"https://evil.example/token"} }), nil), "system/*.rs"),
			wantCode: smart.CodeInvalidClient, mention: "aud"},
		{name: "expired", req: request(sign(t, es, with(claims(esClient.ID, now), func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(-2 * time.Minute)) }), nil), "system/*.rs"),
			wantCode: smart.CodeInvalidClient, mention: "expired"},
		{name: "exp too far ahead", req: request(sign(t, es, with(claims(esClient.ID, now), func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(time.Hour)) }), nil), "system/*.rs"),
			wantCode: smart.CodeInvalidClient, mention: "five minutes"},
		{name: "no exp", req: request(sign(t, es, with(claims(esClient.ID, now), func(c *jwt.Claims) { c.Expiry = nil }), nil), "system/*.rs"),
			wantCode: smart.CodeInvalidClient, mention: "exp"},
		{name: "not yet valid", req: request(sign(t, es, with(claims(esClient.ID, now), func(c *jwt.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(3 * time.Minute)) }), nil), "system/*.rs"),
			wantCode: smart.CodeInvalidClient, mention: "not valid before"},
		{name: "no jti", req: request(sign(t, es, with(claims(esClient.ID, now), func(c *jwt.Claims) { c.ID = "" }), nil), "system/*.rs"),
			wantCode: smart.CodeInvalidClient, mention: "jti"},
		{name: "replayed jti", req: request(replayed, "system/*.rs"), wantCode: smart.CodeInvalidClient, mention: "used before"},
		{name: "bad signature", req: request(sign(t, other, claims(esClient.ID, now), map[string]any{"kid": es.KeyID}), "system/*.rs"),
			wantCode: smart.CodeInvalidClient, mention: "signature"},
		{name: "tampered", req: request(tamper(sign(t, es, claims(esClient.ID, now), nil)), "system/*.rs"),
			wantCode: smart.CodeInvalidClient, mention: "signature"},
		{name: "unknown kid", req: request(sign(t, other, claims(esClient.ID, now), nil), "system/*.rs"),
			wantCode: smart.CodeInvalidClient, mention: "kid"},
		{name: "sub differs", req: request(sign(t, es, with(claims(esClient.ID, now), func(c *jwt.Claims) { c.Subject = "someone" }), nil), "system/*.rs"),
			wantCode: smart.CodeInvalidClient, mention: "iss and sub"},
		{name: "unknown client", req: request(sign(t, es, claims("cli_01JNM00000000000000000000A", now), nil), "system/*.rs"),
			wantCode: smart.CodeInvalidClient, mention: "no client"},
		{name: "revoked client", req: request(sign(t, es, claims(revoked.ID, now), nil), "system/*.rs"),
			wantCode: smart.CodeInvalidClient, mention: "revoked"},
		{name: "jku on inline keys", req: request(sign(t, es, claims(esClient.ID, now), map[string]any{"jku": "https://evil.example/jwks"}), "system/*.rs"),
			wantCode: smart.CodeInvalidClient, mention: "jku"},
		{name: "write scope", req: request(sign(t, es, claims(esClient.ID, now), nil), "system/*.write"),
			wantCode: smart.CodeInvalidScope, mention: "read scopes only"},
		{name: "v2 write scope", req: request(sign(t, es, claims(esClient.ID, now), nil), "system/*.cruds"),
			wantCode: smart.CodeInvalidScope, mention: "rs"},
		{name: "scope beyond registration", req: request(sign(t, rs, claims(rsClient.ID, now), nil), "system/*.rs"),
			wantCode: smart.CodeInvalidScope, mention: "registered for"},
		{name: "no scope", req: request(sign(t, es, claims(esClient.ID, now), nil), ""), wantCode: smart.CodeInvalidScope},
		{name: "wrong grant type", req: with(request("x", "system/*.rs"), func(r *smart.TokenRequest) { r.GrantType = "password" }),
			wantCode: smart.CodeUnsupportedGrantType},
		{name: "no grant type", req: with(request("x", "system/*.rs"), func(r *smart.TokenRequest) { r.GrantType = "" }),
			wantCode: smart.CodeInvalidRequest},
		{name: "wrong assertion type", req: with(request("x", "system/*.rs"), func(r *smart.TokenRequest) { r.AssertionType = "urn:x" }),
			wantCode: smart.CodeInvalidRequest},
		{name: "no assertion", req: request("", "system/*.rs"), wantCode: smart.CodeInvalidRequest},
		{name: "not a JWT", req: request("not.a.jwt", "system/*.rs"), wantCode: smart.CodeInvalidRequest},
		{name: "HS256", req: request("eyJhbGciOiJIUzI1NiJ9.e30.x", "system/*.rs"), wantCode: smart.CodeInvalidClient, mention: "RS384 or ES384"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := s.Issue(context.Background(), tt.req)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Issue: %v", err)
				}
				if tok.TokenType != "bearer" || tok.ExpiresIn != 300 || tok.Scope != tt.wantScope || !strings.HasPrefix(tok.AccessToken, "jxa_") {
					t.Errorf("token %+v, want a bearer token for 300 s with scope %q", tok, tt.wantScope)
				}
				return
			}
			var oe *smart.Error
			if !errors.As(err, &oe) {
				t.Fatalf("Issue error %v, want an OAuth error %s", err, tt.wantCode)
			}
			if oe.Code != tt.wantCode || !strings.Contains(oe.Description, tt.mention) {
				t.Errorf("error %s %q, want %s mentioning %q", oe.Code, oe.Description, tt.wantCode, tt.mention)
			}
			if want := map[bool]int{true: 401, false: 400}[tt.wantCode == smart.CodeInvalidClient]; oe.Status() != want {
				t.Errorf("status %d, want %d", oe.Status(), want)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	s, clk := newServer(t, smart.Config{TokenTTL: time.Minute})
	kp := keyPair(t, smart.AlgES384)
	c := register(t, s, kp, "system/*.read")
	tok, err := s.Issue(context.Background(), request(sign(t, kp, claims(c.ID, clk.Now()), nil), "system/Patient.rs"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.ExpiresIn != 60 {
		t.Errorf("expires_in %d, want 60", tok.ExpiresIn)
	}
	g, err := s.Authenticate(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if g.Tenant != events.TenantOf("acme", events.ModeTest) || g.ClientID != c.ID || !g.Scopes.Covers("Patient").Covered || g.Scopes.Covers("Observation").Covered {
		t.Errorf("grant %+v: want acme_test, client %s, Patient only", g, c.ID)
	}
	tests := []struct {
		name    string
		token   string
		advance time.Duration
		want    error
	}{
		{name: "unknown", token: "jxa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", want: smart.ErrInvalidToken},
		{name: "not ours", token: "eyJhbGciOiJub25lIn0.e30.", want: smart.ErrInvalidToken},
		{name: "empty", token: "", want: smart.ErrInvalidToken},
		{name: "expired", token: tok.AccessToken, advance: time.Minute, want: smart.ErrExpiredToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk.Add(tt.advance)
			if _, err := s.Authenticate(context.Background(), tt.token); !errors.Is(err, tt.want) {
				t.Errorf("Authenticate: %v, want %v", err, tt.want)
			}
		})
	}
}

// TestJWKSURL registers a client by jwks_uri: its keys are fetched, cached,
// fetched again for a new kid, and jku is accepted only when it is that URL.
func TestJWKSURL(t *testing.T) {
	s, clk := newServer(t, smart.Config{})
	first, second := keyPair(t, smart.AlgRS384), keyPair(t, smart.AlgES384)
	var serving atomic.Pointer[[]byte]
	serving.Store(&first.PublicJWKS)
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(*serving.Load())
	}))
	t.Cleanup(srv.Close)
	c, err := s.Registry().Register(context.Background(), smart.Registration{Tenant: "acme_test", Scope: "system/*.rs", JWKSURL: srv.URL + "/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	issue := func(kp smart.KeyPair, extra map[string]any) error {
		_, err := s.Issue(context.Background(), request(sign(t, kp, claims(c.ID, clk.Now()), extra), "system/*.rs"))
		return err
	}
	steps := []struct {
		name        string
		run         func() error
		wantErr     bool
		wantFetches int32
	}{
		{name: "first key fetched", run: func() error { return issue(first, nil) }, wantFetches: 1},
		{name: "cached", run: func() error { return issue(first, map[string]any{"jku": srv.URL + "/jwks"}) }, wantFetches: 1},
		{name: "foreign jku", run: func() error { return issue(first, map[string]any{"jku": srv.URL + "/other"}) }, wantErr: true, wantFetches: 1},
		{name: "rotated key fetched again", run: func() error {
			serving.Store(&second.PublicJWKS)
			clk.Add(time.Minute)
			return issue(second, nil)
		}, wantFetches: 2},
		{name: "old key gone", run: func() error { return issue(first, nil) }, wantErr: true, wantFetches: 2},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := st.run()
			if st.wantErr != (err != nil) {
				t.Errorf("err %v, want error %v", err, st.wantErr)
			}
			if got := fetches.Load(); got != st.wantFetches {
				t.Errorf("%d fetches, want %d", got, st.wantFetches)
			}
		})
	}
}

func mustAssertion(tb testing.TB, kp smart.KeyPair, clientID string, now time.Time) string {
	tb.Helper()
	a, err := smart.NewAssertion(kp.PrivateJWK, clientID, tokenURL, now)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func with[T any](v T, f func(*T)) T { f(&v); return v }

// tamper gives a compact JWS another jti, keeping its signature.
func tamper(jws string) string {
	parts := strings.Split(jws, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	_ = json.Unmarshal(payload, &m)
	m["jti"] = "tampered"
	payload, _ = json.Marshal(m)
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}
