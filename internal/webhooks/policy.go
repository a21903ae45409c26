package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jetexport/jetexport/events"
)

// ErrBlocked is returned, wrapped with the reason, for a destination the
// address policy refuses: at registration by [Policy.CheckURL] (which also
// wraps [ErrInvalid]) and at connection time by a [Policy.Client].
var ErrBlocked = errors.New("destination refused")

// MaxURLLength caps a webhook URL.
const MaxURLLength = 2048

// resolveTimeout bounds the DNS lookup [Policy.CheckURL] makes.
const resolveTimeout = 3 * time.Second

// Resolver looks up the addresses of a host; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Policy decides which destinations webhooks may be sent to. The zero value
// is the strict policy: public unicast addresses only.
type Policy struct {
	// AllowPrivate lets webhooks reach loopback, private, link-local and
	// other non-public addresses: an operator setting for local development
	// and tests. Cloud metadata endpoints stay refused even then.
	AllowPrivate bool
	// Resolver resolves host names for [Policy.CheckURL]; nil means
	// net.DefaultResolver.
	Resolver Resolver
}

type rangeRule struct {
	prefix netip.Prefix
	reason string
}

// metadata are the cloud instance metadata and host agent endpoints, refused
// whatever AllowPrivate says: no local setup needs to send them a webhook.
var metadata = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack...
	netip.MustParseAddr("169.254.170.2"),   // AWS ECS task metadata
	netip.MustParseAddr("169.254.169.253"), // AWS DNS
	netip.MustParseAddr("168.63.129.16"),   // Azure wire server
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	netip.MustParseAddr("fd00:ec2::254"),   // AWS IMDS over IPv6
	netip.MustParseAddr("fd00:ec2::23"),    // AWS time sync over IPv6
}

// reserved lists non-public ranges the netip predicates do not cover.
var reserved = []rangeRule{
	{netip.MustParsePrefix("0.0.0.0/8"), "a 'this network' address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT (shared) address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol assignment address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("100::/64"), "a discard-only address"},
}

// Embedded-IPv4 IPv6 ranges: the IPv4 address inside is checked too, so that
// 64:ff9b::7f00:1 is treated as 127.0.0.1.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// classify returns why addr is not a public destination ("" when it is) and
// whether it is a metadata endpoint.
func classify(addr netip.Addr) (reason string, isMetadata bool) {
	addr = addr.WithZone("").Unmap()
	for _, m := range metadata {
		if addr == m {
			return "a cloud metadata address", true
		}
	}
	if addr.Is6() {
		b := addr.As16()
		switch {
		case nat64.Contains(addr):
			return classify(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(addr):
			return classify(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	switch {
	case addr.IsLoopback():
		return "a loopback address", false
	case addr.IsUnspecified():
		return "an unspecified address", false
	case addr.IsPrivate():
		return "a private address", false
	case addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast():
		return "a link-local address", false
	case addr.IsMulticast(), addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "a multicast or broadcast address", false
	}
	for _, r := range reserved {
		if r.prefix.Contains(addr) {
			return r.reason, false
		}
	}
	return "", false
}

// CheckAddr returns an error wrapping [ErrBlocked] that names the reason if
// webhooks may not be sent to addr.
func (p Policy) CheckAddr(addr netip.Addr) error {
	reason, isMetadata := classify(addr)
	if reason == "" || (p.AllowPrivate && !isMetadata) {
		return nil
	}
	hint := "; webhooks go to public addresses only"
	if !isMetadata {
		hint += " (an operator can allow private ones for local development)"
	}
	return fmt.Errorf("%w: %s is %s%s", ErrBlocked, addr.WithZone("").Unmap(), reason, hint)
}

// CheckURL validates a webhook URL for a tenant in mode before it is stored:
// it must parse as an absolute http(s) URL (https only for live tenants)
// without credentials or fragment, and its host, a literal address or every
// address its name resolves to, must pass [Policy.CheckAddr]. A lookup that
// fails is not held against the URL: the check on the resolved address when
// connecting is the one that cannot be got around. Problems are reported as
// an [*InputError] for field "url", which also matches [ErrBlocked] when the
// address is refused.
func (p Policy) CheckURL(ctx context.Context, mode events.Mode, raw string) (*url.URL, error) {
	u, err := p.ParseURL(mode, raw)
	if err != nil {
		return nil, err
	}
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err == nil {
		return u, nil // checked by ParseURL
	}
	var r Resolver = net.DefaultResolver
	if p.Resolver != nil {
		r = p.Resolver
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return u, nil
	}
	for _, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			return nil, blocked(fmt.Sprintf("host %s resolves to %s", host, strings.TrimPrefix(err.Error(), ErrBlocked.Error()+": ")))
		}
	}
	return u, nil
}

// ParseURL is [Policy.CheckURL] without the DNS lookup: the notifier checks
// a stored URL again with it before each attempt, and leaves the addresses a
// name resolves to for the dialer to check.
func (p Policy) ParseURL(mode events.Mode, raw string) (*url.URL, error) {
	bad := func(msg string) error { return invalid(Problem{Field: "url", Message: msg}) }
	if raw == "" {
		return nil, bad("is required")
	}
	if len(raw) > MaxURLLength {
		return nil, bad(fmt.Sprintf("is %d characters long; at most %d", len(raw), MaxURLLength))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, bad(fmt.Sprintf("does not parse: %v", unwrapURLError(err)))
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && mode == events.ModeTest:
	case u.Scheme == "http":
		return nil, bad("must use https for live-mode keys (http is allowed with test keys)")
	default:
		return nil, bad(fmt.Sprintf("must be an absolute https:// URL, not scheme %q", u.Scheme))
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return nil, bad("needs a host, as in https://example.com/hooks/jetexport")
	}
	if u.User != nil {
		return nil, bad("must not carry credentials (user:password@); authenticate deliveries by their signature")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, bad("must not have a #fragment")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, bad(fmt.Sprintf("port %q is not a port number", port))
		}
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if addr, err := netip.ParseAddr(host); err == nil {
		if err := p.CheckAddr(addr); err != nil {
			return nil, blocked(strings.TrimPrefix(err.Error(), ErrBlocked.Error()+": "))
		}
		return u, nil
	}
	switch {
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		if !p.AllowPrivate {
			return nil, blocked(host + " is a loopback name; webhooks go to public addresses only")
		}
	case host == "metadata.google.internal" || host == "metadata":
		return nil, blocked(host + " is a cloud metadata name")
	}
	return u, nil
}

// blocked is an InputError on field url that also matches ErrBlocked.
func blocked(msg string) error {
	return &InputError{Problems: []Problem{{Field: "url", Message: "refused: " + msg}}, blocked: true}
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// control is the net.Dialer Control function of a policy's client: it runs
// after name resolution, on the very address about to be connected to.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s is not host:port", ErrBlocked, address)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %s is not an IP address", ErrBlocked, host)
	}
	return p.CheckAddr(addr)
}
