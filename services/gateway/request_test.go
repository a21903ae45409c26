package gateway

import (
	"errors"
	"testing"

	"github.com/jetexport/jetexport/internal/fhir"
)

func FuzzDecodeExportRequest(f *testing.F) {
	for _, s := range []string{
		`{"resourceTypes": ["Patient","Encounter","Observation"], "since": "2025-01-01T00:00:00Z"}`,
		`{"resourceTypes":["Patient"],"webhookUrl":"https://example.com/hook"}`,
		`{"resourceTypes":[]}`,
		`{"resourceTypes":["Foo","patient"],"since":"x","webhookUrl":"ftp://x"}`,
		`{"resourceTypes":"Patient"}`,
		`{"resourceTypes":[null,1,{}]}`,
		`{"since":"2025-13-45"}`,
		`[]`, `null`, `""`, ``, `{`, `{"resourceTypes":["Patient"]}garbage`,
		"{\"resourceTypes\":[\"\xff\"]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodeExportRequest(body)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.kind != kindInvalid || ae.message == "" {
				t.Fatalf("error %v is not an invalid-request apiError with a message", err)
			}
			return
		}
		if len(p.ResourceTypes) == 0 {
			t.Fatalf("accepted %q without resource types", body)
		}
		for _, typ := range p.ResourceTypes {
			if !fhir.IsResourceType(typ) {
				t.Fatalf("accepted unknown type %q", typ)
			}
		}
		if p.Since != nil && p.Since.Location().String() != "UTC" {
			t.Fatalf("since %v not in UTC", p.Since)
		}
	})
}

func FuzzAcceptsGzip(f *testing.F) {
	for _, s := range []string{"gzip", "gzip;q=0", "br, gzip;q=0.5", "identity", "", "*", "GZIP ; q=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		acceptsGzip(header) // must not panic on any header
	})
}
