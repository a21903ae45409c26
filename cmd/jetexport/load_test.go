package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/apikeys"
	"github.com/jetexport/jetexport/internal/app"
	"github.com/jetexport/jetexport/internal/synthetic"
)

// clientSystem starts the whole system as serve does (embedded NATS,
// gateway on 127.0.0.1:0) and returns its URL and a test key.
func clientSystem(tb testing.TB) (url, key string) {
	tb.Helper()
	cfg := app.Config{DataDir: tb.TempDir(), HTTP: "127.0.0.1:0", Services: app.All,
		Log: zerolog.New(zerolog.NewTestWriter(tb)).Level(zerolog.WarnLevel)}
	sys, err := app.Start(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("start: %v", err)
	}
	tb.Cleanup(func() {
		if err := sys.Stop(); err != nil {
			tb.Errorf("stop: %v", err)
		}
	})
	key, _, err = apikeys.New(sys.Assets.APIKeys, time.Now).Create(context.Background(), "acme", events.ModeTest, tb.Name())
	if err != nil {
		tb.Fatal(err)
	}
	return sys.HTTPURL, key
}

// runCmd runs one jetexport subcommand as main does.
func runCmd(tb testing.TB, args ...string) (stdout, stderr string, err error) {
	tb.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// closedURL returns an http URL nothing listens on.
func closedURL(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestLoadCommand(t *testing.T) {
	url, key := clientSystem(t)
	out, errOut, err := runCmd(t, "load", "--url", url, "--key", key, "../../testdata/synthea")
	if err != nil {
		t.Fatalf("load testdata: %v\n%s", err, errOut)
	}
	for _, want := range []string{"loaded 230 resources (14 types) from 3 files", "Observation", "resources/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	out, errOut, err = runCmd(t, "load", "--synthetic", "4", "--seed", "2", "--url", url, "--key", key, "--batch", "50")
	if err != nil {
		t.Fatalf("load --synthetic: %v\n%s", err, errOut)
	}
	if want := fmt.Sprintf("loaded %d resources", synthetic.Count(2, 4)); !strings.Contains(out, want) {
		t.Errorf("summary lacks %q:\n%s", want, out)
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing to load", []string{"--url", url, "--key", key}, "give files or folders to load, or --synthetic N"},
		{"no key", []string{"--url", url, "--key", "", "../../testdata/synthea"}, "no API key"},
		{"wrong key", []string{"--url", url, "--key", "clk_test_nope", "--synthetic", "1"}, "refused the API key"},
		{"unreachable", []string{"--url", closedURL(t), "--key", key, "--synthetic", "1"}, "cannot reach the gateway"},
		{"missing path", []string{"--url", url, "--key", key, "no/such/folder"}, "no such file or directory"},
		{"negative patients", []string{"--url", url, "--key", key, "--synthetic", "-2"}, "give a number of patients"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCmd(t, append([]string{"load"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
