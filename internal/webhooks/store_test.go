package webhooks_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
	"github.com/jetexport/jetexport/internal/webhooks"
)

var (
	acmeTest = events.TenantOf("acme", events.ModeTest)
	acmeLive = events.TenantOf("acme", events.ModeLive)
	otherCo  = events.TenantOf("other", events.ModeTest)
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newStore(tb testing.TB, cfg webhooks.StoreConfig) *webhooks.Store {
	tb.Helper()
	a := natstest.Assets(tb, broker.Config{})
	return webhooks.NewStore(a.Webhooks, cfg)
}

func TestStoreLifecycle(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := newStore(t, webhooks.StoreConfig{Policy: webhooks.Policy{AllowPrivate: true}, Now: clk.now})

	req, err := webhooks.ParseCreate([]byte(`{"url":"http://127.0.0.1:9000/hook","events":["export.failed","export.completed","export.failed"],"description":"local"}`))
	if err != nil {
		t.Fatal(err)
	}
	created, err := s.Create(ctx, acmeTest, req)
	if err != nil {
		t.Fatal(err)
	}
	if !webhooks.ValidID(created.ID) || !strings.HasPrefix(created.Secret, webhooks.SecretPrefix) {
		t.Fatalf("created %+v", created)
	}
	want := webhooks.View{ID: created.ID, URL: "http://127.0.0.1:9000/hook", Events: []string{webhooks.EventCompleted, webhooks.EventFailed},
		Description: "local", CreatedAt: clk.t, SecretCreatedAt: clk.t}
	if diff := cmp.Diff(want, created.View); diff != "" {
		t.Fatalf("created view (-want +got):\n%s", diff)
	}

	got, err := s.Get(ctx, acmeTest, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Get (-want +got):\n%s", diff)
	}
	list, err := s.List(ctx, acmeTest)
	if err != nil || len(list) != 1 || list[0].ID != created.ID {
		t.Fatalf("List = %+v, %v", list, err)
	}

	t.Run("other tenants see nothing", func(t *testing.T) {
		for _, tenant := range []events.Tenant{otherCo, acmeLive} {
			if _, err := s.Get(ctx, tenant, created.ID); !errors.Is(err, webhooks.ErrNotFound) {
				t.Errorf("Get as %s = %v, want ErrNotFound", tenant, err)
			}
			if list, err := s.List(ctx, tenant); err != nil || len(list) != 0 {
				t.Errorf("List as %s = %v, %v", tenant, list, err)
			}
			if _, err := s.Delete(ctx, tenant, created.ID); !errors.Is(err, webhooks.ErrNotFound) {
				t.Errorf("Delete as %s = %v, want ErrNotFound", tenant, err)
			}
		}
	})

	t.Run("matching", func(t *testing.T) {
		for typ, n := range map[string]int{webhooks.EventCompleted: 1, webhooks.EventFailed: 1, webhooks.EventExpired: 0} {
			subs, err := s.Matching(ctx, acmeTest, typ)
			if err != nil || len(subs) != n {
				t.Errorf("Matching(%s) = %d subscriptions, %v; want %d", typ, len(subs), err, n)
			}
		}
	})

	t.Run("rotate keeps the old secret signing for the grace period", func(t *testing.T) {
		rot, err := s.Rotate(ctx, acmeTest, created.ID, webhooks.RotateRequest{})
		if err != nil {
			t.Fatal(err)
		}
		wantExp := clk.t.Add(webhooks.DefaultGracePeriod)
		if rot.Secret == created.Secret || rot.PreviousSecretExpiresAt == nil || !rot.PreviousSecretExpiresAt.Equal(wantExp) {
			t.Fatalf("Rotate = %+v", rot)
		}
		sub, err := s.Subscription(ctx, acmeTest, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{rot.Secret, created.Secret}, sub.SigningSecrets(clk.t)); diff != "" {
			t.Errorf("secrets during grace (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{rot.Secret}, sub.SigningSecrets(wantExp)); diff != "" {
			t.Errorf("secrets after grace (-want +got):\n%s", diff)
		}
		v, _ := s.Get(ctx, acmeTest, created.ID)
		if v.PreviousSecretExpiresAt == nil || !v.PreviousSecretExpiresAt.Equal(wantExp) {
			t.Errorf("view after rotation: %+v", v)
		}

		zero := int64(0)
		rot2, err := s.Rotate(ctx, acmeTest, created.ID, webhooks.RotateRequest{GracePeriodSeconds: &zero})
		if err != nil {
			t.Fatal(err)
		}
		sub, _ = s.Subscription(ctx, acmeTest, created.ID)
		// The first secret is still in its grace; the second is retired at once.
		if diff := cmp.Diff([]string{rot2.Secret, created.Secret}, sub.SigningSecrets(clk.t)); diff != "" {
			t.Errorf("secrets after second rotation (-want +got):\n%s", diff)
		}
	})

	t.Run("delete", func(t *testing.T) {
		d, err := s.Delete(ctx, acmeTest, created.ID)
		if err != nil || !d.Deleted || d.ID != created.ID {
			t.Fatalf("Delete = %+v, %v", d, err)
		}
		if _, err := s.Get(ctx, acmeTest, created.ID); !errors.Is(err, webhooks.ErrNotFound) {
			t.Fatalf("Get after delete = %v", err)
		}
		if _, err := s.Delete(ctx, acmeTest, created.ID); !errors.Is(err, webhooks.ErrNotFound) {
			t.Fatalf("second Delete = %v", err)
		}
		if _, err := s.Rotate(ctx, acmeTest, created.ID, webhooks.RotateRequest{}); !errors.Is(err, webhooks.ErrNotFound) {
			t.Fatalf("Rotate after delete = %v", err)
		}
	})
}

func TestStoreCreateRefuses(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, webhooks.StoreConfig{MaxPerTenant: 1})
	tests := []struct {
		name    string
		tenant  events.Tenant
		req     webhooks.CreateRequest
		wantErr error
		wantMsg string
	}{
		{name: "http for a live tenant", tenant: acmeLive, req: webhooks.CreateRequest{URL: "http://93.184.215.14/h", Events: []string{webhooks.EventCompleted}},
			wantErr: webhooks.ErrInvalid, wantMsg: "must use https"},
		{name: "loopback", tenant: acmeTest, req: webhooks.CreateRequest{URL: "http://127.0.0.1:9000/h", Events: []string{webhooks.EventCompleted}},
			wantErr: webhooks.ErrBlocked, wantMsg: "url: refused: 127.0.0.1 is a loopback address"},
		{name: "metadata", tenant: acmeLive, req: webhooks.CreateRequest{URL: "https://169.254.169.254/latest", Events: []string{webhooks.EventCompleted}},
			wantErr: webhooks.ErrBlocked, wantMsg: "cloud metadata address"},
		{name: "private", tenant: acmeLive, req: webhooks.CreateRequest{URL: "https://10.0.0.8/h", Events: []string{webhooks.EventCompleted}},
			wantErr: webhooks.ErrBlocked, wantMsg: "private address"},
		{name: "unknown event", tenant: acmeLive, req: webhooks.CreateRequest{URL: "https://93.184.215.14/h", Events: []string{"job.done"}},
			wantErr: webhooks.ErrInvalid, wantMsg: `unknown event "job.done"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Create(ctx, tc.tenant, tc.req)
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Create = %v, want %v with %q", err, tc.wantErr, tc.wantMsg)
			}
		})
	}
	t.Run("limit", func(t *testing.T) {
		req := webhooks.CreateRequest{URL: "https://93.184.215.14/h", Events: []string{webhooks.EventCompleted}}
		if _, err := s.Create(ctx, acmeLive, req); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, acmeLive, req); !errors.Is(err, webhooks.ErrLimit) {
			t.Fatalf("second Create = %v, want ErrLimit", err)
		}
	})
}

func TestStoreIDsNeverReachTheBucket(t *testing.T) {
	s := newStore(t, webhooks.StoreConfig{})
	for _, id := range []string{"", "*", ">", "wh_x", "wh_01J0000000000000000000000.x", "../wh", "WH_01J00000000000000000000000"} {
		if _, err := s.Get(context.Background(), acmeTest, id); !errors.Is(err, webhooks.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestDefaultSecret(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, webhooks.StoreConfig{})
	first, err := s.DefaultSecret(ctx, acmeTest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := webhooks.DecodeSecret(first.Secret); err != nil {
		t.Fatal(err)
	}
	again, err := s.DefaultSecret(ctx, acmeTest)
	if err != nil || again.Secret != first.Secret {
		t.Fatalf("second DefaultSecret = %v, %v; want the first one", again, err)
	}
	other, err := s.DefaultSecret(ctx, acmeLive)
	if err != nil || other.Secret == first.Secret {
		t.Fatalf("live tenant's default secret = %v, %v; want its own", other, err)
	}
}
