package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetexport/jetexport/internal/natstest"
	"github.com/jetexport/jetexport/internal/webhooks"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startCmd runs a long-lived subcommand until the test ends.
func startCmd(tb testing.TB, args ...string) *syncBuffer {
	tb.Helper()
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, out, out) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("%s: %v", args[0], err)
		}
	})
	return out
}

func TestWebhooksVerify(t *testing.T) {
	body := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(body, []byte(`{"test": 2432232314}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// The Standard Webhooks specification's test vector.
	vector := []string{"--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "--id", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		"--timestamp", "1614265330", "--body-file", body}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "spec vector", args: append(vector, "--signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")},
		{name: "wrong signature", args: append(vector, "--signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="), wantErr: "no v1 signature matches"},
		{name: "too old for the tolerance", args: append(vector, "--signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "--tolerance", "5m"), wantErr: "more than 5m0s from now"},
		{name: "no secret", args: []string{"--id", "x"}, wantErr: "--secret is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), append([]string{"webhooks", "verify"}, tc.args...), &out, &out)
			if tc.wantErr == "" {
				if err != nil || !strings.Contains(out.String(), "signature valid") {
					t.Fatalf("verify = %v, %q", err, out.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("verify = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestWebhooksListen(t *testing.T) {
	var forwarded http.Header
	var mu sync.Mutex
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		forwarded = r.Header.Clone()
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(target.Close)
	secret := webhooks.NewSecret()
	out := startCmd(t, "webhooks", "listen", "--listen", "127.0.0.1:0", "--secret", secret, "--forward-to", target.URL)
	listening := regexp.MustCompile(`listening on (http://[0-9.:]+/)`)
	var addr string
	natstest.Eventually(t, 5*time.Second, "the listener to start", func() bool {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})

	body := []byte(`{"type":"export.completed","id":"msg_1","data":{}}`)
	post := func(sig string) int {
		req, _ := http.NewRequest(http.MethodPost, addr+"hook", bytes.NewReader(body))
		req.Header.Set(webhooks.HeaderID, "msg_1")
		req.Header.Set(webhooks.HeaderTimestamp, strconv.FormatInt(time.Now().Unix(), 10))
		req.Header.Set(webhooks.HeaderSignature, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good, err := webhooks.Sign(secret, "msg_1", time.Now(), body)
	if err != nil {
		t.Fatal(err)
	}
	if code := post(good); code != http.StatusAccepted {
		t.Fatalf("signed delivery answered %d, want the forward target's 202", code)
	}
	mu.Lock()
	if forwarded.Get(webhooks.HeaderSignature) != good || forwarded.Get(webhooks.HeaderID) != "msg_1" {
		t.Errorf("forwarded headers %v", forwarded)
	}
	mu.Unlock()
	if code := post("v1,AAAA"); code != http.StatusUnauthorized {
		t.Fatalf("badly signed delivery answered %d, want 401", code)
	}
	natstest.Eventually(t, 5*time.Second, "both deliveries printed", func() bool {
		s := out.String()
		return strings.Contains(s, "signature valid") && strings.Contains(s, "signature INVALID") && strings.Contains(s, `"type": "export.completed"`)
	})
}
