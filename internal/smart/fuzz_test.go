package smart_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jetexport/jetexport/internal/smart"
)

// FuzzParseScopes: any scope parameter parses or fails with a scope error,
// and what parses prints back to scopes that parse the same.
func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{"system/*.read", "system/*.rs system/Patient.read", "system/Observation.rs?category=laboratory",
		"system/*.cruds", "patient/*.read", "system/Observation.rs?code=http://loinc.org|1234-5,x&date=ge2020", "system/.r", "system/*.rs?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ss, err := smart.ParseScopes(in)
		if err != nil {
			if !errors.Is(err, smart.ErrInvalidScope) && !errors.Is(err, smart.ErrWriteScope) {
				t.Fatalf("ParseScopes(%q): error %v wraps neither scope error", in, err)
			}
			return
		}
		again, err := smart.ParseScopes(ss.String())
		if err != nil || again.String() != ss.String() {
			t.Fatalf("ParseScopes(%q).String() = %q does not parse back the same: %q, %v", in, ss.String(), again.String(), err)
		}
		for _, s := range ss {
			if strings.ContainsAny(s.String(), " \t\n") {
				t.Fatalf("scope %q holds a space", s)
			}
		}
	})
}

// FuzzParseJWKS: any key set document is accepted or refused with
// ErrInvalidJWKS, never a panic; accepted keys are public.
func FuzzParseJWKS(f *testing.F) {
	kp, err := smart.GenerateKey(smart.AlgES384)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(kp.PublicJWKS)
	f.Add(kp.PrivateJWK)
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		keys, err := smart.ParseJWKS(in)
		if err != nil {
			if !errors.Is(err, smart.ErrInvalidJWKS) {
				t.Fatalf("ParseJWKS error %v does not wrap ErrInvalidJWKS", err)
			}
			return
		}
		for _, k := range keys {
			if !k.IsPublic() {
				t.Fatalf("ParseJWKS accepted a private key %q", k.KeyID)
			}
		}
	})
}

// FuzzIssue: any client assertion is answered with a token or an OAuth
// error, never another error or a panic.
func FuzzIssue(f *testing.F) {
	s, clk := newServer(f, smart.Config{})
	kp := keyPair(f, smart.AlgES384)
	c := register(f, s, kp, "system/*.read")
	f.Add(sign(f, kp, claims(c.ID, clk.Now()), nil), "system/*.rs")
	f.Add(mustAssertion(f, kp, c.ID, clk.Now()), "system/Patient.read")
	f.Add("eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOjF9.AAAA", "system/*.read")
	f.Add("eyJhbGciOiJub25lIn0.e30.", "")
	f.Add("a.b.c.d.e", "system/*.write")
	f.Fuzz(func(t *testing.T, assertion, scope string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := s.Issue(ctx, request(assertion, scope))
		var oe *smart.Error
		if err != nil && !errors.As(err, &oe) {
			t.Fatalf("Issue(%q, %q): %v is not an OAuth error", assertion, scope, err)
		}
	})
}
