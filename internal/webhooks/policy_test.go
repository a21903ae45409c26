package webhooks

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/jetexport/jetexport/events"
)

func TestCheckAddr(t *testing.T) {
	tests := []struct {
		name         string
		addr         string
		allowPrivate bool
		wantReason   string // "" means allowed
	}{
		{name: "public v4", addr: "93.184.215.14"},
		{name: "public v6", addr: "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
		{name: "loopback", addr: "127.0.0.1", wantReason: "loopback"},
		{name: "loopback 127/8", addr: "127.10.0.5", wantReason: "loopback"},
		{name: "loopback v6", addr: "::1", wantReason: "loopback"},
		{name: "v4-mapped loopback", addr: "::ffff:127.0.0.1", wantReason: "loopback"},
		{name: "nat64 loopback", addr: "64:ff9b::7f00:1", wantReason: "loopback"},
		{name: "6to4 private", addr: "2002:0a00:0001::1", wantReason: "private"},
		{name: "private 10/8", addr: "10.1.2.3", wantReason: "private"},
		{name: "private 172.16/12", addr: "172.31.255.1", wantReason: "private"},
		{name: "private 192.168/16", addr: "192.168.1.1", wantReason: "private"},
		{name: "unique local v6", addr: "fd12:3456::1", wantReason: "private"},
		{name: "link-local", addr: "169.254.1.1", wantReason: "link-local"},
		{name: "link-local v6", addr: "fe80::1%eth0", wantReason: "link-local"},
		{name: "metadata", addr: "169.254.169.254", wantReason: "metadata"},
		{name: "metadata v6", addr: "fd00:ec2::254", wantReason: "metadata"},
		{name: "metadata v4-mapped", addr: "::ffff:169.254.169.254", wantReason: "metadata"},
		{name: "metadata stays refused when private allowed", addr: "169.254.169.254", allowPrivate: true, wantReason: "metadata"},
		{name: "unspecified", addr: "0.0.0.0", wantReason: "unspecified"},
		{name: "this network", addr: "0.1.2.3", wantReason: "this network"},
		{name: "cgnat", addr: "100.64.0.1", wantReason: "carrier-grade"},
		{name: "multicast", addr: "239.1.2.3", wantReason: "multicast"},
		{name: "broadcast", addr: "255.255.255.255", wantReason: "broadcast"},
		{name: "reserved", addr: "240.0.0.1", wantReason: "reserved"},
		{name: "loopback allowed", addr: "127.0.0.1", allowPrivate: true},
		{name: "private allowed", addr: "10.0.0.1", allowPrivate: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Policy{AllowPrivate: tc.allowPrivate}.CheckAddr(netip.MustParseAddr(tc.addr))
			if tc.wantReason == "" {
				if err != nil {
					t.Fatalf("CheckAddr = %v, want allowed", err)
				}
				return
			}
			if !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), tc.wantReason) {
				t.Fatalf("CheckAddr = %v, want refused as %s", err, tc.wantReason)
			}
		})
	}
}

// resolver answers every lookup with fixed addresses.
type resolver []netip.Addr

func (r resolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	if len(r) == 0 {
		return nil, &net.DNSError{Err: "no such host", IsNotFound: true}
	}
	return r, nil
}

func TestCheckURL(t *testing.T) {
	public := resolver{netip.MustParseAddr("93.184.215.14")}
	rebinding := resolver{netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.0.0.7")}
	tests := []struct {
		name    string
		mode    events.Mode
		url     string
		policy  Policy
		wantErr string // "" means accepted
		blocked bool
	}{
		{name: "https live", mode: events.ModeLive, url: "https://hooks.example.com/jetexport", policy: Policy{Resolver: public}},
		{name: "https with port", mode: events.ModeLive, url: "https://hooks.example.com:8443/x?a=b", policy: Policy{Resolver: public}},
		{name: "http test", mode: events.ModeTest, url: "http://hooks.example.com/x", policy: Policy{Resolver: public}},
		{name: "name that does not resolve", mode: events.ModeLive, url: "https://nowhere.example/x", policy: Policy{Resolver: resolver{}}},
		{name: "http live", mode: events.ModeLive, url: "http://hooks.example.com/x", wantErr: "must use https for live-mode keys"},
		{name: "empty", mode: events.ModeTest, url: "", wantErr: "is required"},
		{name: "relative", mode: events.ModeTest, url: "/hooks", wantErr: "absolute https:// URL"},
		{name: "ftp", mode: events.ModeTest, url: "ftp://example.com/x", wantErr: `not scheme "ftp"`},
		{name: "no host", mode: events.ModeTest, url: "https:///x", wantErr: "needs a host"},
		{name: "opaque", mode: events.ModeTest, url: "https:example.com", wantErr: "needs a host"},
		{name: "does not parse", mode: events.ModeTest, url: "https://exa mple.com/", wantErr: "does not parse"},
		{name: "credentials", mode: events.ModeTest, url: "https://u:p@example.com/", wantErr: "credentials"},
		{name: "fragment", mode: events.ModeTest, url: "https://example.com/#x", wantErr: "fragment"},
		{name: "port zero", mode: events.ModeTest, url: "https://example.com:0/", wantErr: "not a port number"},
		{name: "too long", mode: events.ModeTest, url: "https://example.com/" + strings.Repeat("a", MaxURLLength), wantErr: "at most 2048"},
		{name: "loopback literal", mode: events.ModeTest, url: "http://127.0.0.1:9000/hook", wantErr: "127.0.0.1 is a loopback address", blocked: true},
		{name: "loopback v6 literal", mode: events.ModeTest, url: "http://[::1]:9000/hook", wantErr: "loopback", blocked: true},
		{name: "metadata literal", mode: events.ModeLive, url: "https://169.254.169.254/latest/meta-data", wantErr: "metadata", blocked: true},
		{name: "metadata even when private allowed", mode: events.ModeTest, url: "http://169.254.169.254/", policy: Policy{AllowPrivate: true}, wantErr: "metadata", blocked: true},
		{name: "metadata name", mode: events.ModeTest, url: "http://metadata.google.internal/", policy: Policy{AllowPrivate: true}, wantErr: "metadata", blocked: true},
		{name: "localhost", mode: events.ModeTest, url: "http://localhost:9000/", wantErr: "loopback name", blocked: true},
		{name: "sub.localhost", mode: events.ModeTest, url: "http://app.localhost/", wantErr: "loopback name", blocked: true},
		{name: "name resolving to private", mode: events.ModeLive, url: "https://rebind.example.com/", policy: Policy{Resolver: rebinding},
			wantErr: "host rebind.example.com resolves to 10.0.0.7 is a private address", blocked: true},
		{name: "loopback allowed", mode: events.ModeTest, url: "http://127.0.0.1:9000/hook", policy: Policy{AllowPrivate: true}},
		{name: "localhost allowed", mode: events.ModeTest, url: "http://localhost:9000/hook", policy: Policy{AllowPrivate: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := tc.policy.CheckURL(context.Background(), tc.mode, tc.url)
			if tc.wantErr == "" {
				if err != nil || u == nil {
					t.Fatalf("CheckURL = %v, want accepted", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("CheckURL = %v, want an error containing %q", err, tc.wantErr)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			if errors.Is(err, ErrBlocked) != tc.blocked {
				t.Errorf("errors.Is(%v, ErrBlocked) = %v, want %v", err, !tc.blocked, tc.blocked)
			}
			var ie *InputError
			if !errors.As(err, &ie) || ie.Problems[0].Field != "url" {
				t.Errorf("error %v is not an InputError on url", err)
			}
		})
	}
}

// TestClientRefusesAtDial shows the check on the resolved address: a name
// (localhost) that passes no registration check still cannot be reached
// when the policy refuses what it resolves to.
func TestClientRefusesAtDial(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	tests := []struct {
		name    string
		policy  Policy
		url     string
		blocked bool
	}{
		{name: "strict, IP literal", url: srv.URL, blocked: true},
		{name: "strict, name", url: "http://localhost:" + port + "/", blocked: true},
		{name: "private allowed", url: srv.URL, policy: Policy{AllowPrivate: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.policy.Client(5*time.Second).Post(tc.url, "application/json", strings.NewReader("{}"))
			if resp != nil {
				resp.Body.Close()
			}
			if tc.blocked {
				if !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "loopback") {
					t.Fatalf("Post = %v, want refused as loopback", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Post = %v", err)
			}
		})
	}
}

func TestClientFollowsNoRedirect(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	resp, err := Policy{AllowPrivate: true}.Client(5*time.Second).Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || hits != 1 {
		t.Fatalf("status %d after %d requests, want the 307 itself after 1", resp.StatusCode, hits)
	}
}

// FuzzCheckURL: URLs come from API clients; checking one must not panic,
// and an accepted URL is absolute http(s) with a host.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://example.com/x", "http://127.0.0.1:80/", "https://[::1]/", "http://[fe80::1%25en0]/",
		"https://u@h/", "https://h:99999/", "https://169.254.169.254", "https://x.localhost", "javascript:alert(1)", "%", "https://h/#f"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, live bool) {
		mode := events.ModeTest
		if live {
			mode = events.ModeLive
		}
		u, err := Policy{Resolver: resolver{}}.CheckURL(context.Background(), mode, raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || (live && u.Scheme != "https") {
			t.Fatalf("accepted %q", raw)
		}
		if a, err := netip.ParseAddr(u.Hostname()); err == nil {
			if reason, _ := classify(a); reason != "" {
				t.Fatalf("accepted %q, %s", raw, reason)
			}
		}
	})
}
