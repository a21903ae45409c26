package smart_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/smart"
)

func TestRegister(t *testing.T) {
	s, _ := newServer(t, smart.Config{})
	kp := keyPair(t, smart.AlgES384)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	tests := []struct {
		name    string
		reg     smart.Registration
		mention []string // empty: success
	}{
		{name: "inline keys", reg: smart.Registration{Tenant: "acme_test", Name: "nightly", Scope: "system/*.read", JWKS: kp.PublicJWKS}},
		{name: "jwks url", reg: smart.Registration{Tenant: "acme_live", Scope: "system/*.rs", JWKSURL: "https://client.example/jwks.json"}},
		{name: "no keys", reg: smart.Registration{Tenant: "acme_test", Scope: "system/*.read"}, mention: []string{"public keys are required"}},
		{name: "both", reg: smart.Registration{Tenant: "acme_test", Scope: "system/*.read", JWKS: kp.PublicJWKS, JWKSURL: "https://x.example/j"},
			mention: []string{"not both"}},
		{name: "private key", reg: smart.Registration{Tenant: "acme_test", Scope: "system/*.read", JWKS: jwks(t, jose.JSONWebKey{Key: mustKey(t), KeyID: "k"})},
			mention: []string{"private key"}},
		{name: "P-256 key", reg: smart.Registration{Tenant: "acme_test", Scope: "system/*.read", JWKS: jwks(t, jose.JSONWebKey{Key: &p256.PublicKey, KeyID: "k"})},
			mention: []string{"P-384"}},
		{name: "small RSA key", reg: smart.Registration{Tenant: "acme_test", Scope: "system/*.read", JWKS: jwks(t, jose.JSONWebKey{Key: &small.PublicKey, KeyID: "k"})},
			mention: []string{"2048"}},
		{name: "RS256 key", reg: smart.Registration{Tenant: "acme_test", Scope: "system/*.read",
			JWKS: jwks(t, jose.JSONWebKey{Key: &mustRSA(t).PublicKey, KeyID: "k", Algorithm: "RS256"})}, mention: []string{"RS384"}},
		{name: "not JSON", reg: smart.Registration{Tenant: "acme_test", Scope: "system/*.read", JWKS: []byte("{")}, mention: []string{"keys"}},
		{name: "empty set", reg: smart.Registration{Tenant: "acme_test", Scope: "system/*.read", JWKS: []byte(`{"keys":[]}`)}, mention: []string{"no signing key"}},
		{name: "bad url", reg: smart.Registration{Tenant: "acme_test", Scope: "system/*.read", JWKSURL: "ftp://x/y"}, mention: []string{"http(s)"}},
		{name: "everything wrong", reg: smart.Registration{Tenant: "Acme", Scope: "system/*.write"},
			mention: []string{"tenant", "write", "public keys are required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := s.Registry().Register(context.Background(), tt.reg)
			if len(tt.mention) == 0 {
				if err != nil {
					t.Fatalf("Register: %v", err)
				}
				got, err := s.Registry().Get(context.Background(), c.ID)
				if err != nil || got.Tenant != tt.reg.Tenant || got.Scope != tt.reg.Scope || !strings.HasPrefix(got.ID, "cli_") {
					t.Errorf("Get(%s) = %+v, %v", c.ID, got, err)
				}
				return
			}
			if !errors.Is(err, smart.ErrInvalidClient) {
				t.Fatalf("Register error %v, want ErrInvalidClient", err)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestListRevoke(t *testing.T) {
	s, _ := newServer(t, smart.Config{})
	kp := keyPair(t, smart.AlgRS384)
	a := register(t, s, kp, "system/*.read")
	b := register(t, s, kp, "system/Patient.read")
	other, err := s.Registry().Register(context.Background(), smart.Registration{Tenant: "globex_test", Scope: "system/*.read", JWKS: kp.PublicJWKS})
	if err != nil {
		t.Fatal(err)
	}
	acme := events.TenantOf("acme", events.ModeTest)
	ctx := context.Background()
	list, err := s.Registry().List(ctx, acme)
	if err != nil || len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Fatalf("List(acme_test) = %v, %v; want %s and %s", list, err, a.ID, b.ID)
	}
	if ids := list[0].KeyIDs(); len(ids) != 1 || ids[0] != kp.KeyID {
		t.Errorf("KeyIDs = %v, want [%s]", ids, kp.KeyID)
	}
	tests := []struct {
		name   string
		tenant events.Tenant
		id     string
		want   error
	}{
		{name: "own client", tenant: acme, id: a.ID},
		{name: "twice", tenant: acme, id: a.ID},
		{name: "another tenant's", tenant: acme, id: other.ID, want: smart.ErrUnknownClient},
		{name: "unknown", tenant: acme, id: "cli_01JNM00000000000000000000A", want: smart.ErrUnknownClient},
		{name: "malformed", tenant: acme, id: "../x", want: smart.ErrUnknownClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := s.Registry().Revoke(ctx, tt.tenant, tt.id)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Revoke: %v, want %v", err, tt.want)
			}
			if err == nil && c.RevokedAt == nil {
				t.Errorf("revoked client %+v has no RevokedAt", c)
			}
		})
	}
	if all, err := s.Registry().List(ctx, ""); err != nil || len(all) != 3 {
		t.Errorf("List(all) = %d clients, %v; want 3", len(all), err)
	}
}

func jwks(tb testing.TB, keys ...jose.JSONWebKey) []byte {
	tb.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func mustRSA(tb testing.TB) *rsa.PrivateKey {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}
