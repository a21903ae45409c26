// Package natstest starts real embedded NATS servers for tests: a random
// port, a temporary store directory, shut down by t.Cleanup.
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natsserver"
)

// Server starts an embedded JetStream server on 127.0.0.1 with a random port
// and returns its client URL.
func Server(tb testing.TB) string {
	tb.Helper()
	srv, err := natsserver.Start(natsserver.Config{Listen: "127.0.0.1:-1", StoreDir: tb.TempDir()})
	if err != nil {
		tb.Fatalf("start nats: %v", err)
	}
	tb.Cleanup(srv.Shutdown)
	return srv.ClientURL()
}

// Connect connects to url and closes the connection at cleanup.
func Connect(tb testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, js, err := broker.Connect(ctx, url, tb.Name())
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc, js
}

// Assets starts a server, connects and sets up every jetexport asset.
func Assets(tb testing.TB, cfg broker.Config) *broker.Assets {
	tb.Helper()
	_, js := Connect(tb, Server(tb))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := broker.Setup(ctx, js, cfg)
	if err != nil {
		tb.Fatalf("setup: %v", err)
	}
	return a
}

// Eventually polls cond every few milliseconds until it returns true or the
// timeout passes, then fails the test with msg.
func Eventually(tb testing.TB, timeout time.Duration, msg string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	wait := 2 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("after %s: %s", timeout, msg)
		}
		time.Sleep(wait)
		wait = min(wait*2, 100*time.Millisecond)
	}
}
