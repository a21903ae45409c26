package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers every delivery carries.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every symmetric signing secret: "whsec_" and the
// base64 of the key bytes.
const SecretPrefix = "whsec_"

// secretBytes is the size of the secrets jetexport makes; the specification
// asks for 24 to 64.
const secretBytes = 32

// DefaultTolerance is how far a webhook-timestamp may be from the receiver's
// clock before [VerifyRequest] refuses it as a possible replay.
const DefaultTolerance = 5 * time.Minute

// Errors returned by signing and verification.
var (
	// ErrSecret means a secret is not "whsec_" followed by base64.
	ErrSecret = errors.New("malformed webhook secret")
	// ErrSignature means a webhook's signature does not verify: missing
	// headers, a timestamp outside the tolerance, or no matching signature.
	ErrSignature = errors.New("webhook signature does not verify")
)

// NewSecret returns a fresh random secret, "whsec_" and the base64 of 32 bytes.
func NewSecret() string {
	b := make([]byte, secretBytes)
	rand.Read(b) // never fails: crypto/rand panics rather than return short
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// DecodeSecret returns the key bytes of secret. The "whsec_" prefix is
// optional, as in the specification's reference libraries.
func DecodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, fmt.Errorf("%w: the part after %q must be base64", ErrSecret, SecretPrefix)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrSecret)
	}
	return key, nil
}

// Sign returns the Standard Webhooks signature "v1,<base64 HMAC-SHA256>" of
// "id.timestamp.body" under secret, the timestamp being ts in Unix seconds.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := DecodeSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, strconv.FormatInt(ts.Unix(), 10), body)), nil
}

// SignatureHeader returns the webhook-signature value for a delivery signed
// with every one of secrets, space separated: during a rotation's grace
// period a receiver holding either the old or the new secret can verify it.
func SignatureHeader(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", fmt.Errorf("%w: no secret to sign with", ErrSecret)
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Sign(s, id, ts, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

func mac(key []byte, id, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a delivery's signature header against secret: one of its
// space-separated "v1,<base64>" entries must be the HMAC of
// "id.timestamp.body". When tolerance is positive the timestamp must also be
// within tolerance of now; a tolerance of zero skips that check (for
// replaying a recorded delivery, or a published test vector).
func Verify(secret, id, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := DecodeSecret(secret)
	if err != nil {
		return err
	}
	if id == "" || timestamp == "" || signature == "" {
		return fmt.Errorf("%w: the %s, %s and %s headers are all required", ErrSignature,
			HeaderID, HeaderTimestamp, HeaderSignature)
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not Unix seconds", ErrSignature, HeaderTimestamp, timestamp)
	}
	if tolerance > 0 {
		ts := time.Unix(sec, 0)
		if ts.Before(now.Add(-tolerance)) || ts.After(now.Add(tolerance)) {
			return fmt.Errorf("%w: %s %s is more than %s from now", ErrSignature, HeaderTimestamp,
				ts.UTC().Format(time.RFC3339), tolerance)
		}
	}
	want := mac(key, id, timestamp, body)
	for sig := range strings.FieldsSeq(signature) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no v1 signature matches", ErrSignature)
}

// VerifyRequest is [Verify] with the id, timestamp and signature read from
// the request headers h.
func VerifyRequest(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	return Verify(secret, h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature), body, now, tolerance)
}
