package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/natstest"
)

func runKeysCmd(tb testing.TB, args ...string) (string, string, error) {
	tb.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"keys"}, args...), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestKeysCommand(t *testing.T) {
	url := natstest.Server(t)
	_, js := natstest.Connect(t, url)
	if _, err := broker.Setup(context.Background(), js, broker.Config{}); err != nil { // as serve does first
		t.Fatal(err)
	}
	out, _, err := runKeysCmd(t, "create", "--tenant", "acme", "--nats-url", url)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	testKey := strings.TrimSpace(out)
	if !regexp.MustCompile(`^clk_test_[0-9A-Za-z]{40}$`).MatchString(testKey) {
		t.Fatalf("create printed %q, want a clk_test_ key", out)
	}
	out, stderr, err := runKeysCmd(t, "create", "--tenant", "acme", "--live", "--name", "prod", "--nats-url", url)
	if err != nil || !strings.HasPrefix(out, "clk_live_") {
		t.Fatalf("create --live = %q, %v", out, err)
	}
	id := regexp.MustCompile(`key_[0-9A-Z]{26}`).FindString(stderr)
	if id == "" {
		t.Fatalf("create --live did not print the key id: %q", stderr)
	}
	if _, _, err := runKeysCmd(t, "revoke", id, "--nats-url", url); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	out, _, err = runKeysCmd(t, "list", "--tenant", "acme", "--nats-url", url)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], testKey[:13]) || !strings.HasSuffix(strings.TrimSpace(lines[1]), "-") {
		t.Fatalf("list does not show the test key, unrevoked, first:\n%s", out)
	}
	if !strings.Contains(lines[2], id) || strings.HasSuffix(strings.TrimSpace(lines[2]), "-") {
		t.Fatalf("list does not show %s revoked:\n%s", id, out)
	}
	if strings.Contains(out, testKey) {
		t.Fatal("list printed a whole key")
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", nil, "create, list or revoke"},
		{"unknown subcommand", []string{"rotate"}, "unknown subcommand"},
		{"create without tenant", []string{"create", "--nats-url", url}, "--tenant is required"},
		{"bad tenant", []string{"create", "--tenant", "Acme Corp", "--nats-url", url}, "lower-case"},
		{"revoke without id", []string{"revoke", "--nats-url", url}, "exactly one KEY_ID"},
		{"revoke unknown", []string{"revoke", "key_nope", "--nats-url", url}, "no key has id"},
		{"no server", []string{"list", "--nats-url", "nats://127.0.0.1:1"}, "is `jetexport serve` running?"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runKeysCmd(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
