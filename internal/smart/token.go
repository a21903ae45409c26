package smart

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
)

// Token endpoint constants of SMART Backend Services.
const (
	GrantClientCredentials = "client_credentials"
	AssertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// tokenPrefix starts every access token, to recognise one in a log.
	tokenPrefix = "jxa_"
	maxJTI      = 255
)

// OAuth 2.0 error codes of the token endpoint (RFC 6749 section 5.2).
const (
	CodeInvalidRequest       = "invalid_request"
	CodeInvalidClient        = "invalid_client"
	CodeInvalidGrant         = "invalid_grant"
	CodeInvalidScope         = "invalid_scope"
	CodeUnsupportedGrantType = "unsupported_grant_type"
)

// Error is an OAuth 2.0 error answer of the token endpoint: Code is one of
// the Code constants, Description says what to fix.
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

// Status is the HTTP status of the answer: 401 for invalid_client, 400
// otherwise (RFC 6749 section 5.2).
func (e *Error) Status() int {
	if e.Code == CodeInvalidClient {
		return http.StatusUnauthorized
	}
	return http.StatusBadRequest
}

func oauthError(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// Errors of [Server.Authenticate].
var (
	// ErrInvalidToken: the bearer token is not one this server issued.
	ErrInvalidToken = errors.New("invalid access token")
	// ErrExpiredToken: the token was issued here but its time is up.
	ErrExpiredToken = errors.New("expired access token")
)

// TokenRequest is the form a client posts to the token endpoint.
type TokenRequest struct {
	GrantType     string
	AssertionType string
	Assertion     string
	Scope         string
	// TokenURL is the absolute URL of the token endpoint the request
	// reached: the assertion's aud must be exactly this.
	TokenURL string
}

// Token is a successful token answer.
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
}

// Grant is what an access token stands for: a tenant, the client and the
// scopes it was granted, until ExpiresAt.
type Grant struct {
	Tenant    events.Tenant `json:"tenant"`
	ClientID  string        `json:"clientId"`
	Scope     string        `json:"scope"`
	ExpiresAt time.Time     `json:"expiresAt"`
	// Scopes is Scope parsed.
	Scopes Scopes `json:"-"`
}

// Server issues access tokens to registered clients that prove who they are
// with a signed JWT (private_key_jwt), and tells which grant a token
// stands for. All its state is in the [Stores] buckets, so any number of
// gateways can serve one token endpoint. It is safe for concurrent use.
type Server struct {
	cfg      Config
	stores   *Stores
	registry *Registry
	keys     *keyCache
	now      func() time.Time
}

// New returns a Server on deps.Stores.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("smart config: %w", err)
	}
	if deps.Stores == nil {
		return nil, errors.New("smart: no stores")
	}
	cfg = cfg.withDefaults()
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.HTTPClient == nil {
		deps.HTTPClient = &http.Client{Timeout: cfg.JWKSTimeout}
	}
	return &Server{cfg: cfg, stores: deps.Stores, registry: NewRegistry(deps.Stores.Clients, deps.Now),
		keys: newKeyCache(deps.HTTPClient, cfg.JWKSCacheTTL, deps.Now), now: deps.Now}, nil
}

// Registry returns the client registry the server authenticates against.
func (s *Server) Registry() *Registry { return s.registry }

// TokenTTL returns how long the tokens it issues work.
func (s *Server) TokenTTL() time.Duration { return s.cfg.TokenTTL }

// Issue checks a token request and its client assertion and issues an
// access token. Errors the client must fix are *[Error]; any other error
// is a failure of the stores behind it.
func (s *Server) Issue(ctx context.Context, req TokenRequest) (Token, error) {
	switch {
	case req.GrantType == "":
		return Token{}, oauthError(CodeInvalidRequest, "grant_type is required: send grant_type=client_credentials")
	case req.GrantType != GrantClientCredentials:
		return Token{}, oauthError(CodeUnsupportedGrantType, "grant_type %s is not supported; backend services use client_credentials", quote(req.GrantType))
	case req.AssertionType != AssertionTypeJWTBearer:
		return Token{}, oauthError(CodeInvalidRequest, "client_assertion_type must be %s", AssertionTypeJWTBearer)
	case req.Assertion == "":
		return Token{}, oauthError(CodeInvalidRequest, "client_assertion is required: a JWT signed with the client's private key")
	}
	tok, header, claims, oerr := parseAssertion(req.Assertion)
	if oerr != nil {
		return Token{}, oerr
	}
	client, err := s.client(ctx, claims)
	if err != nil {
		return Token{}, err
	}
	if err := s.verify(ctx, client, tok, header); err != nil {
		return Token{}, err
	}
	if oerr := s.checkClaims(claims, req.TokenURL); oerr != nil {
		return Token{}, oerr
	}
	scopes, err := ParseScopes(req.Scope)
	if err == nil {
		allowed, _ := ParseScopes(client.Scope)
		err = scopes.Within(allowed)
	}
	if err != nil {
		return Token{}, oauthError(CodeInvalidScope, "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if err := s.useJTI(ctx, client.ID, claims.ID); err != nil {
		return Token{}, err
	}
	return s.issue(ctx, client, scopes)
}

// assertionClaims are the claims of a client assertion.
type assertionClaims = jwt.Claims

// parseAssertion reads a compact JWS without verifying it yet.
func parseAssertion(assertion string) (*jwt.JSONWebToken, jose.Header, assertionClaims, *Error) {
	var claims assertionClaims
	if alg, ok := headerAlg(assertion); ok && !slices.Contains(Algorithms, jose.SignatureAlgorithm(alg)) {
		return nil, jose.Header{}, claims, oauthError(CodeInvalidClient, "the assertion is signed with %s; sign it with RS384 or ES384", quote(alg))
	}
	tok, err := jwt.ParseSigned(assertion, Algorithms)
	if err != nil {
		return nil, jose.Header{}, claims, oauthError(CodeInvalidRequest, "client_assertion is not a signed JWT in compact form: %v", err)
	}
	if len(tok.Headers) != 1 {
		return nil, jose.Header{}, claims, oauthError(CodeInvalidRequest, "client_assertion must carry exactly one signature")
	}
	if err := tok.UnsafeClaimsWithoutVerification(&claims); err != nil {
		return nil, jose.Header{}, claims, oauthError(CodeInvalidRequest, "the assertion's claims are not a JSON object of JWT claims: %v", err)
	}
	return tok, tok.Headers[0], claims, nil
}

// headerAlg reads the alg of a compact JWS header.
func headerAlg(compact string) (string, bool) {
	head, _, ok := strings.Cut(compact, ".")
	if !ok {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "", false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &h) != nil {
		return "", false
	}
	return h.Alg, true
}

// client finds the registered client the assertion names as iss and sub.
func (s *Server) client(ctx context.Context, c assertionClaims) (Client, error) {
	if c.Issuer == "" || c.Subject != c.Issuer {
		return Client{}, oauthError(CodeInvalidClient, "iss and sub must both be the client_id (got iss %s, sub %s)", quote(c.Issuer), quote(c.Subject))
	}
	client, err := s.registry.Get(ctx, c.Issuer)
	if errors.Is(err, ErrUnknownClient) {
		return Client{}, oauthError(CodeInvalidClient, "no client %s is registered; register it with `jetexport clients register` or POST /v1/clients", quote(c.Issuer))
	}
	if err != nil {
		return Client{}, err
	}
	if client.RevokedAt != nil {
		return Client{}, oauthError(CodeInvalidClient, "client %s was revoked on %s", client.ID, client.RevokedAt.Format(time.RFC3339))
	}
	return client, nil
}

// verify checks the assertion's signature with the client's registered keys.
func (s *Server) verify(ctx context.Context, client Client, tok *jwt.JSONWebToken, h jose.Header) error {
	if jku, ok := h.ExtraHeaders["jku"]; ok {
		if u, _ := jku.(string); client.JWKSURL == "" || u != client.JWKSURL {
			return oauthError(CodeInvalidClient, "the assertion's jku %s is not the jwks_uri registered for client %s", quote(fmt.Sprint(jku)), client.ID)
		}
	}
	var keys []jose.JSONWebKey
	var err error
	if client.JWKSURL != "" {
		fctx, cancel := context.WithTimeout(ctx, s.cfg.JWKSTimeout)
		keys, err = s.keys.keys(fctx, client.JWKSURL, h.KeyID)
		cancel()
		if err != nil {
			return oauthError(CodeInvalidClient, "the client's public keys could not be read: %v", err)
		}
	} else if keys, err = ParseJWKS(client.JWKS); err != nil {
		return oauthError(CodeInvalidClient, "the client's registered keys are unusable: %v", err)
	}
	tried := 0
	for _, k := range keys {
		if h.KeyID != "" && k.KeyID != h.KeyID {
			continue
		}
		tried++
		var c assertionClaims
		if tok.Claims(k.Key, &c) == nil {
			return nil
		}
	}
	if tried == 0 {
		return oauthError(CodeInvalidClient, "no key registered for client %s has kid %s", client.ID, quote(h.KeyID))
	}
	return oauthError(CodeInvalidClient, "the assertion's signature does not verify with the key(s) registered for client %s", client.ID)
}

// checkClaims checks aud, exp, nbf and jti.
func (s *Server) checkClaims(c assertionClaims, tokenURL string) *Error {
	now, skew := s.now(), s.cfg.ClockSkew
	switch {
	case !c.Audience.Contains(tokenURL):
		return oauthError(CodeInvalidClient, "the assertion's aud %s must be this token endpoint, %s", quote(strings.Join(c.Audience, " ")), tokenURL)
	case c.Expiry == nil:
		return oauthError(CodeInvalidClient, "the assertion has no exp; set it at most five minutes ahead")
	case c.Expiry.Time().Before(now.Add(-skew)):
		return oauthError(CodeInvalidClient, "the assertion expired at %s; sign a new one", c.Expiry.Time().UTC().Format(time.RFC3339))
	case c.Expiry.Time().After(now.Add(MaxAssertionLifetime + skew)):
		return oauthError(CodeInvalidClient, "the assertion's exp %s is more than five minutes ahead", c.Expiry.Time().UTC().Format(time.RFC3339))
	case c.NotBefore != nil && c.NotBefore.Time().After(now.Add(skew)):
		return oauthError(CodeInvalidClient, "the assertion is not valid before %s", c.NotBefore.Time().UTC().Format(time.RFC3339))
	case c.ID == "":
		return oauthError(CodeInvalidClient, "the assertion has no jti; give each assertion a unique one")
	case len(c.ID) > maxJTI:
		return oauthError(CodeInvalidClient, "the assertion's jti is longer than %d characters", maxJTI)
	}
	return nil
}

// useJTI records the client's jti; a jti seen before is a replay.
func (s *Server) useJTI(ctx context.Context, clientID, jti string) error {
	_, err := s.stores.JTIs.Create(ctx, hash(clientID+"\n"+jti), []byte(s.now().UTC().Format(time.RFC3339)))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return oauthError(CodeInvalidClient, "the assertion's jti %s was used before; every assertion needs a new jti", quote(jti))
	}
	if err != nil {
		return fmt.Errorf("record jti: %w", err)
	}
	return nil
}

// issue stores a new token's grant under its hash and returns the token.
func (s *Server) issue(ctx context.Context, client Client, scopes Scopes) (Token, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Token{}, fmt.Errorf("issue token: %w", err)
	}
	plain := tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	g := Grant{Tenant: client.Tenant, ClientID: client.ID, Scope: scopes.String(),
		ExpiresAt: s.now().Add(s.cfg.TokenTTL).UTC()}
	v, err := json.Marshal(g)
	if err != nil {
		return Token{}, fmt.Errorf("issue token: %w", err)
	}
	if _, err := s.stores.Tokens.Create(ctx, hash(plain), v); err != nil {
		return Token{}, fmt.Errorf("issue token: %w", err)
	}
	return Token{AccessToken: plain, TokenType: "bearer", ExpiresIn: int(s.cfg.TokenTTL / time.Second),
		Scope: g.Scope}, nil
}

// Authenticate returns the grant an access token stands for:
// [ErrInvalidToken] for a token this server did not issue, [ErrExpiredToken]
// for one past its time; any other error is a failure of the token store.
func (s *Server) Authenticate(ctx context.Context, token string) (Grant, error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 128 {
		return Grant{}, ErrInvalidToken
	}
	e, err := s.stores.Tokens.Get(ctx, hash(token))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Grant{}, ErrInvalidToken
	}
	if err != nil {
		return Grant{}, fmt.Errorf("read token: %w", err)
	}
	var g Grant
	if err := json.Unmarshal(e.Value(), &g); err != nil {
		return Grant{}, fmt.Errorf("read token: %w", err)
	}
	if !s.now().Before(g.ExpiresAt) {
		return Grant{}, ErrExpiredToken
	}
	if g.Scopes, err = ParseScopes(g.Scope); err != nil {
		return Grant{}, fmt.Errorf("read token: %w", err)
	}
	return g, nil
}

// hash is the hex SHA-256 of s: a KV key for a secret or arbitrary string.
func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
