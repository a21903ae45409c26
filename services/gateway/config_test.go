package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jetexport/jetexport/services/gateway"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     gateway.Config
		mention []string
	}{
		{name: "zero is valid", cfg: gateway.Config{}},
		{name: "explicit", cfg: gateway.Config{PublicURL: "https://export.example.com", RateLimit: 10,
			RateWindow: time.Second, ExportBodyLimit: 1, FHIRBodyLimit: 1, URLTTL: time.Minute, PublishTimeout: time.Second}},
		{name: "public URL without scheme", cfg: gateway.Config{PublicURL: "127.0.0.1:8080"}, mention: []string{"public URL"}},
		{name: "public URL with query", cfg: gateway.Config{PublicURL: "http://x/?a=1"}, mention: []string{"query"}},
		{name: "everything wrong at once", cfg: gateway.Config{RateLimit: -1, RateWindow: time.Millisecond,
			ExportBodyLimit: -1, FHIRBodyLimit: -1, URLTTL: -time.Hour, PublishTimeout: -1},
			mention: []string{"rate limit", "rate window", "export body limit", "FHIR body limit", "URL TTL", "publish timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err != nil) != (len(tt.mention) > 0) {
				t.Fatalf("Validate = %v", err)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%q does not mention %q", err, m)
				}
			}
		})
	}
	if _, err := gateway.New(gateway.Config{RateLimit: -1}, gateway.Deps{}); err == nil {
		t.Error("New accepted an invalid config")
	}
	if _, err := gateway.New(gateway.Config{}, gateway.Deps{}); err == nil {
		t.Error("New accepted no assets")
	}
}
