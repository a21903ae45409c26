package smart

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// KeyPair is a client signing key made by [GenerateKey]: the private JWK a
// client signs its assertions with, and the JWKS of its public half that is
// registered with jetexport.
type KeyPair struct {
	KeyID      string
	PrivateJWK []byte
	PublicJWKS []byte
}

// GenerateKey makes a signing key for alg, [AlgES384] (EC P-384) or
// [AlgRS384] (RSA 3072). Its kid is the key's RFC 7638 thumbprint.
func GenerateKey(alg string) (KeyPair, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case AlgES384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case AlgRS384:
		priv, err = rsa.GenerateKey(rand.Reader, 3072)
	default:
		return KeyPair{}, fmt.Errorf("generate key: algorithm %q; want %s or %s", alg, AlgES384, AlgRS384)
	}
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate key: %w", err)
	}
	jwk := jose.JSONWebKey{Key: priv, Algorithm: alg, Use: "sig"}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate key: %w", err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	private, err := json.MarshalIndent(jwk, "", "  ")
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate key: %w", err)
	}
	public, err := json.MarshalIndent(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk.Public()}}, "", "  ")
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate key: %w", err)
	}
	return KeyPair{KeyID: jwk.KeyID, PrivateJWK: private, PublicJWKS: public}, nil
}

// NewAssertion signs a client assertion for the token endpoint at tokenURL
// with a private JWK (its alg, RS384 or ES384, picks the algorithm; its kid
// goes in the header): iss and sub are clientID, exp is now plus five
// minutes, jti is random. It is what a SMART backend client sends as
// client_assertion.
func NewAssertion(privateJWK []byte, clientID, tokenURL string, now time.Time) (string, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(privateJWK); err != nil {
		return "", fmt.Errorf("private key: %w", err)
	}
	if jwk.IsPublic() {
		return "", fmt.Errorf("private key: the JWK %q is a public key", jwk.KeyID)
	}
	alg := jose.SignatureAlgorithm(jwk.Algorithm)
	if alg == "" {
		switch jwk.Key.(type) {
		case *ecdsa.PrivateKey:
			alg = jose.ES384
		default:
			alg = jose.RS384
		}
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if jwk.KeyID != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), jwk.KeyID)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jwk.Key}, opts)
	if err != nil {
		return "", fmt.Errorf("signer: %w", err)
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("jti: %w", err)
	}
	claims := jwt.Claims{Issuer: clientID, Subject: clientID, Audience: jwt.Audience{tokenURL},
		Expiry: jwt.NewNumericDate(now.Add(MaxAssertionLifetime)), IssuedAt: jwt.NewNumericDate(now),
		ID: base64.RawURLEncoding.EncodeToString(jti[:])}
	return jwt.Signed(signer).Claims(claims).Serialize()
}
