package apikeys_test

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/apikeys"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
)

func newKeys(tb testing.TB) (*apikeys.Keys, *broker.Assets) {
	tb.Helper()
	a := natstest.Assets(tb, broker.Config{})
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	tick := func() time.Time { // a second later each time: keys sort by creation
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
	return apikeys.New(a.APIKeys, tick), a
}

func create(tb testing.TB, k *apikeys.Keys, customer string, mode events.Mode) (string, apikeys.Key) {
	tb.Helper()
	plain, key, err := k.Create(context.Background(), customer, mode, "ci")
	if err != nil {
		tb.Fatalf("create %s %s: %v", customer, mode, err)
	}
	return plain, key
}

func TestCreateAuthenticate(t *testing.T) {
	k, a := newKeys(t)
	ctx := context.Background()
	testKey, test := create(t, k, "acme", events.ModeTest)
	liveKey, live := create(t, k, "acme", events.ModeLive)
	if !regexp.MustCompile(`^clk_test_[0-9A-Za-z]{40}$`).MatchString(testKey) {
		t.Errorf("test key %q has the wrong shape", testKey)
	}
	if !strings.HasPrefix(liveKey, "clk_live_") {
		t.Errorf("live key %q lacks clk_live_", liveKey)
	}
	if test.Tenant != "acme_test" || live.Tenant != "acme_live" {
		t.Errorf("tenants = %s, %s; want acme_test, acme_live", test.Tenant, live.Tenant)
	}
	if !strings.HasPrefix(testKey, test.Prefix) || len(test.Prefix) != len("clk_test_")+4 {
		t.Errorf("prefix %q does not start key %q", test.Prefix, testKey)
	}
	// The plain key is nowhere in the bucket.
	names, err := a.APIKeys.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		e, err := a.APIKeys.Get(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(n, testKey[9:]) || bytes.Contains(e.Value(), []byte(testKey[9:])) ||
			bytes.Contains(e.Value(), []byte(liveKey[9:])) {
			t.Fatalf("bucket entry %s holds a plain key", n)
		}
	}
	flip := func(s string) string {
		return s[:len(s)-1] + map[bool]string{true: "B", false: "A"}[s[len(s)-1] == 'A']
	}
	tests := []struct {
		name    string
		plain   string
		want    apikeys.Key
		wantErr error
	}{
		{name: "test key", plain: testKey, want: test},
		{name: "live key", plain: liveKey, want: live},
		{name: "one character off", plain: flip(testKey), wantErr: apikeys.ErrUnknown},
		{name: "mode swapped", plain: "clk_live_" + testKey[9:], wantErr: apikeys.ErrUnknown},
		{name: "empty", plain: "", wantErr: apikeys.ErrUnknown},
		{name: "no prefix", plain: testKey[9:], wantErr: apikeys.ErrUnknown},
		{name: "too short", plain: testKey[:20], wantErr: apikeys.ErrUnknown},
		{name: "not base62", plain: testKey[:len(testKey)-1] + ".", wantErr: apikeys.ErrUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := k.Authenticate(ctx, tt.plain)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Authenticate = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil {
				if d := cmp.Diff(tt.want, got); d != "" {
					t.Errorf("key (-want +got):\n%s", d)
				}
			}
		})
	}
}

func TestCreateInvalid(t *testing.T) {
	k, _ := newKeys(t)
	tests := []struct {
		name, customer string
		mode           events.Mode
		keyName        string
	}{
		{name: "empty customer", customer: "", mode: events.ModeTest},
		{name: "upper case", customer: "Acme", mode: events.ModeTest},
		{name: "underscore", customer: "ac_me", mode: events.ModeTest},
		{name: "no mode", customer: "acme"},
		{name: "unknown mode", customer: "acme", mode: "prod"},
		{name: "long name", customer: "acme", mode: events.ModeLive, keyName: strings.Repeat("x", 201)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := k.Create(context.Background(), tt.customer, tt.mode, tt.keyName)
			if !errors.Is(err, apikeys.ErrInvalid) {
				t.Fatalf("Create = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestListRevoke(t *testing.T) {
	k, _ := newKeys(t)
	ctx := context.Background()
	acme1, a1 := create(t, k, "acme", events.ModeTest)
	_, a2 := create(t, k, "acme", events.ModeLive)
	_, b1 := create(t, k, "beta", events.ModeTest)
	ids := func(keys []apikeys.Key) []string {
		var out []string
		for _, key := range keys {
			out = append(out, key.ID)
		}
		return out
	}
	for _, tt := range []struct {
		name     string
		customer string
		want     []string
	}{
		{"all", "", []string{a1.ID, a2.ID, b1.ID}},
		{"acme", "acme", []string{a1.ID, a2.ID}},
		{"beta", "beta", []string{b1.ID}},
		{"nobody", "nobody", nil},
	} {
		t.Run("list "+tt.name, func(t *testing.T) {
			got, err := k.List(ctx, tt.customer)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, ids(got)); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
		})
	}
	if err := k.Revoke(ctx, a1.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if err := k.Revoke(ctx, a1.ID); err != nil {
		t.Fatalf("revoke again: %v", err)
	}
	if err := k.Revoke(ctx, "key_nope"); !errors.Is(err, apikeys.ErrUnknown) {
		t.Fatalf("revoke unknown = %v, want ErrUnknown", err)
	}
	if _, err := k.Authenticate(ctx, acme1); !errors.Is(err, apikeys.ErrRevoked) {
		t.Fatalf("authenticate revoked = %v, want ErrRevoked", err)
	}
	got, err := k.List(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if got[0].RevokedAt == nil || !got[0].RevokedAt.After(got[0].CreatedAt) || got[1].RevokedAt != nil {
		t.Errorf("after revoke: %+v", got)
	}
}

func FuzzAuthenticate(f *testing.F) {
	k, _ := newKeys(f)
	plain, _ := create(f, k, "acme", events.ModeTest)
	for _, s := range []string{plain, "", "clk_test_", "clk_live_" + strings.Repeat("a", 40), "\x00", strings.Repeat("clk_", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := k.Authenticate(context.Background(), s)
		switch {
		case s == plain:
			if err != nil || key.Tenant != "acme_test" {
				t.Fatalf("Authenticate(issued key) = %+v, %v", key, err)
			}
		case !errors.Is(err, apikeys.ErrUnknown):
			t.Fatalf("Authenticate(%q) = %v, want ErrUnknown", s, err)
		}
	})
}
