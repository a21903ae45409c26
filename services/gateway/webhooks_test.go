package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/apikeys"
	"github.com/jetexport/jetexport/internal/app"
)

func TestWebhookSubscriptions(t *testing.T) {
	sys, err := app.Start(context.Background(), app.Config{DataDir: t.TempDir(), HTTP: "127.0.0.1:0",
		Services: app.Services{Gateway: true}, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Stop() })
	keys := apikeys.New(sys.Assets.APIKeys, time.Now)
	key, _, _ := keys.Create(context.Background(), "acme", events.ModeTest, "t")
	other, _, _ := keys.Create(context.Background(), "globex", events.ModeTest, "t")
	live, _, _ := keys.Create(context.Background(), "acme", events.ModeLive, "t")
	call := func(key, method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, sys.HTTPURL+path, strings.NewReader(body))
		req.Header.Set("x-api-key", key)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var env map[string]any
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatalf("%s %s: %d %q", method, path, resp.StatusCode, b)
		}
		return resp.StatusCode, env
	}
	status, env := call(key, "POST", "/v1/webhooks", `{"url":"https://hooks.example.com/jx","events":["export.completed","export.failed"],"description":"ci"}`)
	if status != 201 {
		t.Fatalf("create: %d %v", status, env)
	}
	data := env["data"].(map[string]any)
	id, secret := data["id"].(string), data["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Errorf("secret %q", secret)
	}
	if status, env = call(key, "GET", "/v1/webhooks/"+id, ""); status != 200 || env["data"].(map[string]any)["secret"] != nil {
		t.Errorf("get: %d %v (the secret is shown once, at creation)", status, env)
	}
	if status, _ = call(other, "GET", "/v1/webhooks/"+id, ""); status != 404 {
		t.Errorf("another tenant reads the subscription: %d", status)
	}
	if status, env = call(key, "POST", "/v1/webhooks/"+id+"/rotate", ""); status != 200 || env["data"].(map[string]any)["secret"] == secret {
		t.Errorf("rotate: %d %v", status, env)
	}
	if status, env = call(key, "GET", "/v1/webhooks/default-secret", ""); status != 200 {
		t.Errorf("default secret: %d %v", status, env)
	}
	bad := []struct{ name, key, body, says string }{
		{"not a URL", key, `{"url":"::nope","events":["export.completed"]}`, "url"},
		{"unknown event", key, `{"url":"https://hooks.example.com/","events":["export.done"]}`, "export.done"},
		{"missing events", key, `{"url":"https://hooks.example.com/"}`, "events"},
		{"loopback refused", key, `{"url":"http://127.0.0.1:9/hook","events":["export.completed"]}`, "url"},
		{"http for a live key", live, `{"url":"http://hooks.example.com/","events":["export.completed"]}`, "https"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			status, env := call(tt.key, "POST", "/v1/webhooks", tt.body)
			msg, _ := env["error"].(map[string]any)["message"].(string)
			if status != 400 || !strings.Contains(msg, tt.says) {
				t.Errorf("%d %q, want 400 naming %q", status, msg, tt.says)
			}
		})
	}
	// A one-off webhookUrl on a kick-off obeys the same policy.
	status, env = call(key, "POST", "/v1/bulk/export", `{"resourceTypes":["Patient"],"webhookUrl":"http://169.254.169.254/latest"}`)
	if status != 400 {
		t.Errorf("kick-off with a metadata-address webhookUrl: %d %v", status, env)
	}
	if status, _ = call(key, "DELETE", "/v1/webhooks/"+id, ""); status != 200 {
		t.Errorf("delete: %d", status)
	}
	if status, _ = call(key, "GET", "/v1/webhooks/"+id, ""); status != 404 {
		t.Errorf("deleted subscription still readable: %d", status)
	}
}
