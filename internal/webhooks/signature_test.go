package webhooks

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Standard Webhooks specification's published test vector (the reference
// libraries' TestWebhookSign, standard-webhooks/standard-webhooks).
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignSpecVector(t *testing.T) {
	got, err := Sign(vectorSecret, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != vectorSignature {
		t.Fatalf("Sign = %s, want the specification's %s", got, vectorSignature)
	}
	// The reference libraries accept the secret without its prefix too.
	got, err = Sign(vectorSecret[len(SecretPrefix):], vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if err != nil || got != vectorSignature {
		t.Fatalf("Sign without prefix = %s, %v", got, err)
	}
}

func TestVerify(t *testing.T) {
	ts := time.Unix(vectorTimestamp, 0)
	tsStr := strconv.FormatInt(vectorTimestamp, 10)
	other := "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
	tests := []struct {
		name      string
		secret    string
		id, ts    string
		sig, body string
		now       time.Time
		tolerance time.Duration
		wantErr   error
	}{
		{name: "spec vector", secret: vectorSecret, id: vectorID, ts: tsStr, sig: vectorSignature, body: vectorBody},
		{name: "within tolerance", secret: vectorSecret, id: vectorID, ts: tsStr, sig: vectorSignature, body: vectorBody,
			now: ts.Add(4 * time.Minute), tolerance: DefaultTolerance},
		{name: "old timestamp", secret: vectorSecret, id: vectorID, ts: tsStr, sig: vectorSignature, body: vectorBody,
			now: ts.Add(6 * time.Minute), tolerance: DefaultTolerance, wantErr: ErrSignature},
		{name: "future timestamp", secret: vectorSecret, id: vectorID, ts: tsStr, sig: vectorSignature, body: vectorBody,
			now: ts.Add(-6 * time.Minute), tolerance: DefaultTolerance, wantErr: ErrSignature},
		{name: "one of several signatures", secret: vectorSecret, id: vectorID, ts: tsStr,
			sig: other + " v1a,abc " + vectorSignature + " v2,x", body: vectorBody},
		{name: "altered body", secret: vectorSecret, id: vectorID, ts: tsStr, sig: vectorSignature,
			body: `{"test": 2432232315}`, wantErr: ErrSignature},
		{name: "other id", secret: vectorSecret, id: "msg_other", ts: tsStr, sig: vectorSignature, body: vectorBody, wantErr: ErrSignature},
		{name: "wrong signature", secret: vectorSecret, id: vectorID, ts: tsStr, sig: other, body: vectorBody, wantErr: ErrSignature},
		{name: "missing id", secret: vectorSecret, ts: tsStr, sig: vectorSignature, body: vectorBody, wantErr: ErrSignature},
		{name: "missing signature", secret: vectorSecret, id: vectorID, ts: tsStr, body: vectorBody, wantErr: ErrSignature},
		{name: "timestamp not a number", secret: vectorSecret, id: vectorID, ts: "yesterday", sig: vectorSignature, body: vectorBody, wantErr: ErrSignature},
		{name: "bad secret", secret: "whsec_%%%", id: vectorID, ts: tsStr, sig: vectorSignature, body: vectorBody, wantErr: ErrSecret},
		{name: "empty secret", secret: "whsec_", id: vectorID, ts: tsStr, sig: vectorSignature, body: vectorBody, wantErr: ErrSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.id, tc.ts, tc.sig, []byte(tc.body), tc.now, tc.tolerance)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestSignatureHeaderRotation(t *testing.T) {
	oldSecret, newSecret := NewSecret(), NewSecret()
	now := time.Now()
	body := []byte(`{"type":"export.completed"}`)
	sig, err := SignatureHeader([]string{newSecret, oldSecret}, "msg_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(HeaderID, "msg_1")
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(HeaderSignature, sig)
	for _, s := range []string{oldSecret, newSecret} {
		if err := VerifyRequest(s, h, body, now, DefaultTolerance); err != nil {
			t.Errorf("secret %s: %v", s[:10], err)
		}
	}
	if err := VerifyRequest(NewSecret(), h, body, now, DefaultTolerance); !errors.Is(err, ErrSignature) {
		t.Errorf("unrelated secret verified: %v", err)
	}
	if _, err := SignatureHeader(nil, "msg_1", now, body); !errors.Is(err, ErrSecret) {
		t.Errorf("no secrets: %v", err)
	}
}

func TestNewSecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if a == b {
		t.Fatal("two secrets are equal")
	}
	key, err := DecodeSecret(a)
	if err != nil || len(key) != secretBytes {
		t.Fatalf("DecodeSecret(%s) = %d bytes, %v", a, len(key), err)
	}
}

// FuzzVerify feeds headers a receiver gets from anyone: Verify must never
// panic, and must accept only what Sign produced.
func FuzzVerify(f *testing.F) {
	f.Add(vectorSecret, vectorID, "1614265330", vectorSignature, []byte(vectorBody))
	f.Add(vectorSecret, vectorID, "1614265330", "v1,", []byte(""))
	f.Add("whsec_", "", "-1", "v1a,=== v1,,,", []byte("{}"))
	f.Add("not base64!", "msg", "99999999999999999999", "v1", []byte(nil))
	f.Fuzz(func(t *testing.T, secret, id, ts, sig string, body []byte) {
		err := Verify(secret, id, ts, sig, body, time.Time{}, 0)
		if err == nil {
			n, perr := strconv.ParseInt(ts, 10, 64)
			if perr != nil {
				t.Fatalf("verified with timestamp %q", ts)
			}
			want, serr := Sign(secret, id, time.Unix(n, 0), body)
			if serr != nil {
				t.Fatalf("verified with a secret Sign refuses: %v", serr)
			}
			if strconv.FormatInt(n, 10) == ts && !strings.Contains(sig, want) {
				t.Fatalf("verified %q without the signature %q", sig, want)
			}
		}
	})
}
