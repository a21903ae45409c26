package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/jetexport/jetexport/internal/webhooks"
)

const webhooksUsage = `usage:
  jetexport webhooks listen [--listen 127.0.0.1:9000] [--secret whsec_...] [--forward-to URL] [--status 200]
      receive deliveries, check their signature, print them, and pass them on
  jetexport webhooks verify --secret whsec_... --id ID --timestamp UNIX --signature SIG [--body-file FILE] [--tolerance 5m]
      check one delivery's signature; the body is read from --body-file or standard input`

// maxListenBody caps a delivery the listener reads.
const maxListenBody = 1 << 20

// runWebhooks is a developer's tool for receiving and checking jetexport
// webhooks locally.
func runWebhooks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, webhooksUsage)
		if len(args) == 0 {
			return errors.New("webhooks: listen or verify is required")
		}
		return nil
	}
	switch args[0] {
	case "listen":
		return webhooksListen(ctx, args[1:], stdout, stderr)
	case "verify":
		return webhooksVerify(args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, webhooksUsage)
	return fmt.Errorf("webhooks: unknown subcommand %q", args[0])
}

func webhooksVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("webhooks verify", stderr)
	secret := fs.String("secret", env("webhook-secret", ""), "the endpoint's signing secret, whsec_...")
	id := fs.String("id", "", "the webhook-id header")
	ts := fs.String("timestamp", "", "the webhook-timestamp header")
	sig := fs.String("signature", "", "the webhook-signature header")
	bodyFile := fs.String("body-file", "-", `file holding the exact request body ("-" is standard input)`)
	tolerance := fs.Duration("tolerance", 0, "refuse a timestamp further than this from now (0: do not check, for a recorded delivery)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secret == "" {
		return errors.New("webhooks verify: --secret is required")
	}
	var body []byte
	var err error
	if *bodyFile == "-" {
		body, err = io.ReadAll(io.LimitReader(os.Stdin, maxListenBody+1))
	} else {
		body, err = os.ReadFile(*bodyFile)
	}
	if err != nil {
		return fmt.Errorf("webhooks verify: read body: %w", err)
	}
	if err := webhooks.Verify(*secret, *id, *ts, *sig, body, time.Now(), *tolerance); err != nil {
		return fmt.Errorf("webhooks verify: %w", err)
	}
	fmt.Fprintln(stdout, "signature valid")
	return nil
}

func webhooksListen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("webhooks listen", stderr)
	addr := fs.String("listen", env("webhook-listen", "127.0.0.1:9000"), "address to receive deliveries on")
	secret := fs.String("secret", env("webhook-secret", ""), "signing secret to check deliveries with (whsec_...); without it nothing is checked")
	forward := fs.String("forward-to", "", "URL to pass each delivery on to, with its headers, answering the sender with its status")
	status := fs.Int("status", http.StatusOK, "status to answer with when not forwarding (try 500 to watch the retries)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secret != "" {
		if _, err := webhooks.DecodeSecret(*secret); err != nil {
			return fmt.Errorf("webhooks listen: --secret: %w", err)
		}
	}
	if *status < 100 || *status > 599 {
		return fmt.Errorf("webhooks listen: --status %d is not an HTTP status", *status)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("webhooks listen: %w", err)
	}
	l := &listener{secret: *secret, forward: *forward, status: *status, out: stdout,
		client: &http.Client{Timeout: 30 * time.Second}}
	srv := &http.Server{Handler: l, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "listening on http://%s/ for webhooks", ln.Addr())
	if *forward != "" {
		fmt.Fprintf(stdout, ", forwarding to %s", *forward)
	}
	fmt.Fprintln(stdout)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("webhooks listen: %w", err)
	}
	return nil
}

// listener prints each delivery, checks its signature and answers or
// forwards it.
type listener struct {
	secret  string
	forward string
	status  int
	client  *http.Client

	mu  sync.Mutex // serialises printing
	out io.Writer
}

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxListenBody+1))
	if err != nil || len(body) > maxListenBody {
		http.Error(w, "body unreadable or over 1 MiB", http.StatusRequestEntityTooLarge)
		return
	}
	check := "signature not checked (no --secret)"
	verified := true
	if l.secret != "" {
		if err := webhooks.VerifyRequest(l.secret, r.Header, body, time.Now(), webhooks.DefaultTolerance); err != nil {
			check, verified = "signature INVALID: "+err.Error(), false
		} else {
			check = "signature valid"
		}
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, body, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(body)
	}
	code, note := l.status, ""
	switch {
	case !verified:
		code = http.StatusUnauthorized
	case l.forward != "":
		code, note = l.pass(r, body)
	}
	l.mu.Lock()
	fmt.Fprintf(l.out, "%s %s %s  webhook-id=%s webhook-timestamp=%s\n  %s\n%s\n  answered %d%s\n\n",
		time.Now().Format(time.TimeOnly), r.Method, r.URL.RequestURI(), r.Header.Get(webhooks.HeaderID),
		r.Header.Get(webhooks.HeaderTimestamp), check, pretty.String(), code, note)
	l.mu.Unlock()
	w.WriteHeader(code)
}

// pass forwards a delivery with its webhook headers and returns the status
// to answer the sender with.
func (l *listener) pass(r *http.Request, body []byte) (int, string) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, l.forward, bytes.NewReader(body))
	if err != nil {
		return http.StatusBadGateway, " (forward: " + err.Error() + ")"
	}
	for _, h := range []string{"Content-Type", "User-Agent", webhooks.HeaderID, webhooks.HeaderTimestamp, webhooks.HeaderSignature} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return http.StatusBadGateway, " (forward: " + err.Error() + ")"
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxListenBody))
	return resp.StatusCode, " (from " + l.forward + ")"
}
