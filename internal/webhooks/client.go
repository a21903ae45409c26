package webhooks

import (
	"net"
	"net/http"
	"time"
)

// Client returns an HTTP client for deliveries that enforces p on every
// connection: the dialer's Control function checks the resolved address
// right before connecting, so a name that resolved to a public address when
// it was registered and to a private one now (DNS rebinding) is refused.
// The client follows no redirects (a 3xx is returned as the response, and
// counts as a failed delivery), uses no proxy from the environment (a proxy
// would hide the destination address from the check), and gives up on a
// request after timeout.
func (p Policy) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: p.control}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
