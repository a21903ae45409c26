package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/internal/app"
	"github.com/jetexport/jetexport/internal/natstest"
)

func runClientsCmd(tb testing.TB, args ...string) (string, string, error) {
	tb.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"clients"}, args...), &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestClientsCommand: keygen, register, list, token against a running
// gateway, revoke; and the usage errors.
func TestClientsCommand(t *testing.T) {
	url := natstest.Server(t)
	sys, err := app.Start(context.Background(), app.Config{NATSURL: url, HTTP: "127.0.0.1:0",
		Services: app.Services{Gateway: true}, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Stop() })
	dir := t.TempDir()
	private, jwks := filepath.Join(dir, "private.jwk"), filepath.Join(dir, "public.jwks")

	out, _, err := runClientsCmd(t, "keygen", "--alg", "RS384", "--private", private, "--jwks", jwks)
	if err != nil || strings.TrimSpace(out) == "" {
		t.Fatalf("keygen: %q, %v", out, err)
	}
	if fi, err := os.Stat(private); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("private key file mode: %v, %v", fi, err)
	}
	if _, _, err := runClientsCmd(t, "keygen", "--private", private, "--jwks", jwks); err == nil {
		t.Error("keygen overwrote an existing key")
	}
	out, _, err = runClientsCmd(t, "register", "--tenant", "acme", "--jwks", jwks, "--scope", "system/*.read", "--name", "nightly", "--nats-url", url)
	client := strings.TrimSpace(out)
	if err != nil || !regexp.MustCompile(`^cli_[0-9A-Z]{26}$`).MatchString(client) {
		t.Fatalf("register: %q, %v", out, err)
	}
	out, _, err = runClientsCmd(t, "list", "--tenant", "acme", "--nats-url", url)
	if err != nil || !strings.Contains(out, client) || !strings.Contains(out, "acme_test") || !strings.Contains(out, "nightly") {
		t.Fatalf("list: %q, %v", out, err)
	}
	out, _, err = runClientsCmd(t, "token", "--url", sys.HTTPURL, "--client-id", client, "--private", private, "--scope", "system/Patient.rs")
	if err != nil || !strings.HasPrefix(out, "jxa_") {
		t.Fatalf("token: %q, %v", out, err)
	}
	if _, _, err := runClientsCmd(t, "revoke", client, "--nats-url", url); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if _, _, err := runClientsCmd(t, "token", "--url", sys.HTTPURL, "--client-id", client, "--private", private); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("token after revoke: %v, want invalid_client", err)
	}

	tests := []struct {
		name    string
		args    []string
		mention string
	}{
		{name: "no subcommand", args: nil, mention: "keygen, register"},
		{name: "unknown subcommand", args: []string{"rotate"}, mention: "unknown subcommand"},
		{name: "register without tenant", args: []string{"register", "--jwks", jwks, "--nats-url", url}, mention: "--tenant"},
		{name: "register without keys", args: []string{"register", "--tenant", "acme", "--nats-url", url}, mention: "--jwks FILE or --jwks-url"},
		{name: "register with both", args: []string{"register", "--tenant", "acme", "--jwks", jwks, "--jwks-url", "https://x.example/j", "--nats-url", url}, mention: "one of them"},
		{name: "register a write scope", args: []string{"register", "--tenant", "acme", "--jwks", jwks, "--scope", "system/*.write", "--nats-url", url}, mention: "read scopes only"},
		{name: "register a private key", args: []string{"register", "--tenant", "acme", "--jwks", private, "--nats-url", url}, mention: "private key"},
		{name: "bad tenant", args: []string{"register", "--tenant", "Acme", "--jwks", jwks, "--nats-url", url}, mention: "lower-case"},
		{name: "revoke unknown", args: []string{"revoke", "cli_01JNM4Z8K3W5X9YB2C6D7E8F9G", "--nats-url", url}, mention: "no client"},
		{name: "keygen bad alg", args: []string{"keygen", "--alg", "HS256", "--private", filepath.Join(dir, "a"), "--jwks", filepath.Join(dir, "b")}, mention: "ES384"},
		{name: "token without key", args: []string{"token", "--client-id", client}, mention: "--private"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runClientsCmd(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("clients %v: %v, want an error mentioning %q", tt.args, err, tt.mention)
			}
		})
	}
}
