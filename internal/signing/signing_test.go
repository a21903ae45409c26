package signing_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
	"github.com/jetexport/jetexport/internal/signing"
)

// clock is a settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newSigner(tb testing.TB, kv jetstream.KeyValue, now func() time.Time) *signing.Signer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := signing.New(ctx, kv, now)
	if err != nil {
		tb.Fatalf("new signer: %v", err)
	}
	return s
}

// split returns the path and query of a signed URL.
func split(tb testing.TB, signed string) (string, url.Values) {
	tb.Helper()
	u, err := url.Parse(signed)
	if err != nil {
		tb.Fatalf("parse %q: %v", signed, err)
	}
	return u.Path, u.Query()
}

func TestVerify(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	clk := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := newSigner(t, a.Signing, clk.Now)
	const path = "/v1/files/acme_test/job_01JNM0000000000000000000AA/Patient.1.ndjson"
	signed := s.Sign(path, clk.Now().Add(time.Hour))
	p, q := split(t, signed)
	if p != path {
		t.Fatalf("signed path = %q, want %q", p, path)
	}
	with := func(k, v string) url.Values {
		c := url.Values{}
		for key, vals := range q {
			c[key] = append([]string(nil), vals...)
		}
		if v == "" {
			c.Del(k)
		} else {
			c.Set(k, v)
		}
		return c
	}
	sig := q.Get("sig")
	flipped := string(rune(sig[0]^1)) + sig[1:]
	tests := []struct {
		name  string
		path  string
		q     url.Values
		later time.Duration
		want  error
	}{
		{name: "genuine", path: path, q: q},
		{name: "genuine at the last second", path: path, q: q, later: time.Hour},
		{name: "expired", path: path, q: q, later: time.Hour + time.Second, want: signing.ErrExpired},
		{name: "other path", path: strings.Replace(path, "Patient", "Observation", 1), q: q, want: signing.ErrBadSignature},
		{name: "other tenant", path: strings.Replace(path, "acme_test", "acme_live", 1), q: q, want: signing.ErrBadSignature},
		{name: "extended exp", path: path, q: with("exp", "99999999999"), want: signing.ErrBadSignature},
		{name: "altered sig", path: path, q: with("sig", flipped), want: signing.ErrBadSignature},
		{name: "unknown kid", path: path, q: with("kid", "0123456789abcdef"), want: signing.ErrBadSignature},
		{name: "malformed kid", path: path, q: with("kid", "../current"), want: signing.ErrBadSignature},
		{name: "exp not a number", path: path, q: with("exp", "tomorrow"), want: signing.ErrBadSignature},
		{name: "no sig", path: path, q: with("sig", ""), want: signing.ErrBadSignature},
		{name: "no exp", path: path, q: with("exp", ""), want: signing.ErrBadSignature},
		{name: "no kid", path: path, q: with("kid", ""), want: signing.ErrBadSignature},
		{name: "no query", path: path, q: url.Values{}, want: signing.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: clk.Now().Add(tt.later)}
			v := newSigner(t, a.Signing, c.Now)
			err := v.Verify(tt.path, tt.q)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSignersShareKeys(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	ctx := context.Background()
	// Gateways starting together agree on one key.
	signers := make([]*signing.Signer, 4)
	var wg sync.WaitGroup
	errs := make([]error, len(signers))
	for i := range signers {
		wg.Go(func() { signers[i], errs[i] = signing.New(ctx, a.Signing, nil) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("signer %d: %v", i, err)
		}
		if signers[i].KeyID() != signers[0].KeyID() {
			t.Fatalf("signer %d uses key %s, signer 0 uses %s", i, signers[i].KeyID(), signers[0].KeyID())
		}
	}
	exp := time.Now().Add(time.Hour)
	before := signers[0].Sign("/v1/files/a", exp)
	if err := signers[1].Rotate(ctx); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	after := signers[1].Sign("/v1/files/a", exp)
	if signers[1].KeyID() == signers[0].KeyID() {
		t.Fatal("rotate kept the key id")
	}
	restarted := newSigner(t, a.Signing, nil)
	if restarted.KeyID() != signers[1].KeyID() {
		t.Fatalf("a new signer uses %s, want the rotated key %s", restarted.KeyID(), signers[1].KeyID())
	}
	for _, tt := range []struct {
		name   string
		signed string
		by     *signing.Signer
	}{
		{"old key verified by its signer", before, signers[0]},
		{"old key verified after rotation", before, signers[1]},
		{"old key verified after restart", before, restarted},
		{"new key verified by a signer that loaded earlier", after, signers[2]},
		{"new key verified after restart", after, restarted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, q := split(t, tt.signed)
			if err := tt.by.Verify(p, q); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestJobLinks(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	clk := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 500, time.UTC)}
	s := newSigner(t, a.Signing, clk.Now)
	const tenant, id = events.Tenant("acme_test"), "job_01JNM0000000000000000000AA"
	job := events.Job{ID: id, Tenant: tenant, Status: events.StatusCompleted, Files: []events.File{
		{ResourceType: "Patient", Part: 1, Object: events.ObjectName(tenant, id, "Patient", 1), Count: 3, Bytes: 300},
		{ResourceType: "Observation", Part: 1, Object: events.ObjectName(tenant, id, "Observation", 1), Count: 5, Bytes: 900},
		{ResourceType: "Observation", Part: 2, Count: 1, Bytes: 100},
	}}
	l := s.JobLinks("http://127.0.0.1:8080/", job, time.Hour)
	wantExp := time.Date(2025, 3, 1, 13, 0, 0, 0, time.UTC)
	if !l.ExpiresAt.Equal(wantExp) {
		t.Fatalf("ExpiresAt = %s, want %s", l.ExpiresAt, wantExp)
	}
	strip := func(u string) string { p, _, _ := strings.Cut(u, "?"); return p }
	got := []string{strip(l.DownloadURL)}
	for _, f := range l.Files {
		got = append(got, f.ResourceType+" "+strip(f.URL))
	}
	want := []string{
		"http://127.0.0.1:8080/v1/files/acme_test/job_01JNM0000000000000000000AA/export.ndjson",
		"Patient http://127.0.0.1:8080/v1/files/acme_test/job_01JNM0000000000000000000AA/Patient.1.ndjson",
		"Observation http://127.0.0.1:8080/v1/files/acme_test/job_01JNM0000000000000000000AA/Observation.1.ndjson",
		"Observation http://127.0.0.1:8080/v1/files/acme_test/job_01JNM0000000000000000000AA/Observation.2.ndjson",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("links (-want +got):\n%s", d)
	}
	for _, u := range append([]string{l.DownloadURL}, l.Files[0].URL, l.Files[2].URL) {
		p, q := split(t, u)
		if err := s.Verify(p, q); err != nil {
			t.Errorf("Verify(%s): %v", u, err)
		}
	}
	if l.Files[1].Count != 5 || l.Files[1].Bytes != 900 {
		t.Errorf("file 1 = %+v, want count 5 bytes 900", l.Files[1])
	}
	job.Status = events.StatusProcessing
	if l := s.JobLinks("http://x", job, time.Hour); l.DownloadURL != "" || len(l.Files) != 0 {
		t.Errorf("links of a processing job = %+v, want none", l)
	}
}

func FuzzVerify(f *testing.F) {
	a := natstest.Assets(f, broker.Config{})
	s := newSigner(f, a.Signing, nil)
	f.Add("/v1/files/a/b/c", "exp=1&kid=0123456789abcdef&sig=abc")
	f.Add("/v1/files/a/b/c", s.Sign("/v1/files/a/b/c", time.Now().Add(time.Hour))[len("/v1/files/a/b/c?"):])
	f.Add("", "")
	f.Add("/x", "exp=-1&kid=%00&sig=%%")
	f.Add("/x", "exp=9223372036854775808&kid=&sig=")
	f.Fuzz(func(t *testing.T, path, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		err = s.Verify(path, q)
		if err != nil && !errors.Is(err, signing.ErrBadSignature) && !errors.Is(err, signing.ErrExpired) {
			t.Fatalf("Verify(%q, %q) = %v: not a sentinel", path, query, err)
		}
	})
}
