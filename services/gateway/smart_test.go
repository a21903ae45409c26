package gateway_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/smart"
	"github.com/jetexport/jetexport/services/gateway"
)

// TestTokenEndpoint drives POST /auth/token over HTTP with good and bad
// assertions; every answer is OAuth JSON and never cached.
func TestTokenEndpoint(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{})
	plain, _ := h.key("acme", events.ModeTest)
	es, esClient := h.registerClient(plain, smart.AlgES384, "system/*.read")
	rs, rsClient := h.registerClient(plain, smart.AlgRS384, "system/Patient.read")
	other, err := smart.GenerateKey(smart.AlgES384)
	if err != nil {
		t.Fatal(err)
	}
	replayed := h.tokenForm(es, esClient, "system/*.rs")
	if r := h.tokenRequest(replayed); r.status != 200 {
		t.Fatalf("first use: %d %s", r.status, r.body)
	}
	signed := func(kp smart.KeyPair, client, aud string, at time.Time, scope string) url.Values {
		a, err := smart.NewAssertion(kp.PrivateJWK, client, aud, at)
		if err != nil {
			t.Fatal(err)
		}
		f := h.tokenForm(kp, client, scope)
		f.Set("client_assertion", a)
		return f
	}
	set := func(f url.Values, k, v string) url.Values { f.Set(k, v); return f }
	tests := []struct {
		name        string
		contentType string
		form        url.Values
		raw         string
		status      int
		code        string // OAuth error; "" for a token
		scope       string
	}{
		{name: "ES384", form: h.tokenForm(es, esClient, "system/*.rs"), status: 200, scope: "system/*.rs"},
		{name: "RS384", form: h.tokenForm(rs, rsClient, "system/Patient.read"), status: 200, scope: "system/Patient.read"},
		{name: "wrong aud", form: signed(es, esClient, "https://elsewhere.example/auth/token", h.clock.Now(), "system/*.rs"), status: 401, code: "invalid_client"},
		{name: "expired", form: signed(es, esClient, h.url+"/auth/token", h.clock.Now().Add(-10*time.Minute), "system/*.rs"), status: 401, code: "invalid_client"},
		{name: "replayed jti", form: replayed, status: 401, code: "invalid_client"},
		{name: "bad signature", form: signed(other, esClient, h.url+"/auth/token", h.clock.Now(), "system/*.rs"), status: 401, code: "invalid_client"},
		{name: "write scope", form: h.tokenForm(es, esClient, "system/*.write"), status: 400, code: "invalid_scope"},
		{name: "beyond registration", form: h.tokenForm(rs, rsClient, "system/*.read"), status: 400, code: "invalid_scope"},
		{name: "unsupported grant", form: set(h.tokenForm(es, esClient, "system/*.rs"), "grant_type", "authorization_code"), status: 400, code: "unsupported_grant_type"},
		{name: "repeated parameter", raw: h.tokenForm(es, esClient, "system/*.rs").Encode() + "&scope=system/*.read", status: 400, code: "invalid_request"},
		{name: "JSON body", contentType: "application/json", raw: `{"grant_type":"client_credentials"}`, status: 400, code: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.raw
			if tt.form != nil {
				body = tt.form.Encode()
			}
			ct := tt.contentType
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			r := h.do(request{method: "POST", path: "/auth/token", contentType: ct, body: []byte(body)})
			if r.status != tt.status || r.header.Get("Cache-Control") != "no-store" || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d (want %d), Cache-Control %q, Content-Type %q: %s", r.status, tt.status,
					r.header.Get("Cache-Control"), r.header.Get("Content-Type"), r.body)
			}
			var got struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
				ExpiresIn   int    `json:"expires_in"`
				Scope       string `json:"scope"`
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatalf("not JSON: %s", r.body)
			}
			if tt.code != "" {
				if got.Error != tt.code || got.Description == "" || got.AccessToken != "" {
					t.Errorf("error %q (%s), want %s with a description", got.Error, got.Description, tt.code)
				}
				return
			}
			if got.TokenType != "bearer" || got.ExpiresIn != 300 || got.Scope != tt.scope || got.AccessToken == "" {
				t.Errorf("token answer %+v", got)
			}
		})
	}
}

// TestTokenLifetime: a token stops working when it expires.
func TestTokenLifetime(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{FHIR: gateway.FHIRConfig{SMART: smart.Config{TokenTTL: time.Minute}}})
	plain, _ := h.key("acme", events.ModeTest)
	kp, client := h.registerClient(plain, smart.AlgES384, "system/*.read")
	token := h.bearer(kp, client, "system/*.read")
	if r, _ := h.kickoff(cred{bearer: token}, "/fhir/$export?_type=Patient", fhirHeaders); r.status != 202 {
		t.Fatalf("kick-off with a fresh token: %d %s", r.status, r.body)
	}
	h.clock.Add(time.Minute)
	r, _ := h.kickoff(cred{bearer: token}, "/fhir/$export?_type=Patient", fhirHeaders)
	wantOutcome(t, r, 401, "login", "expired")
	if !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
	}
}

// TestClientsAPI registers, lists and revokes clients with an API key.
func TestClientsAPI(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{})
	plain, _ := h.key("acme", events.ModeTest)
	other, _ := h.key("globex", events.ModeTest)
	kp, client := h.registerClient(plain, smart.AlgES384, "system/*.read")
	post := func(body string) response {
		return h.do(request{method: "POST", path: "/v1/clients", key: plain, contentType: "application/json", body: []byte(body)})
	}
	e := wantError(t, post(`{"scope":"system/*.write","jwks":{"keys":[]}}`), 400, "invalid_client", "write")
	if len(e.Error.Details) != 2 || e.Error.Details[0].Field != "scope" || e.Error.Details[1].Field != "jwks" {
		t.Errorf("details %+v, want scope and jwks", e.Error.Details)
	}
	wantError(t, post(`{"scope":"system/*.read"}`), 400, "invalid_client", "public keys are required")
	wantError(t, post(`[`), 400, "invalid_json")
	if r := post(`{"scope":"system/*.read","jwksUrl":"https://client.example/jwks.json"}`); r.status != 201 {
		t.Errorf("register by jwksUrl: %d %s", r.status, r.body)
	}
	var list []struct {
		ClientID string   `json:"clientId"`
		Tenant   string   `json:"tenant"`
		KeyIDs   []string `json:"keyIds"`
		TokenURL string   `json:"tokenUrl"`
	}
	r := h.do(request{method: "GET", path: "/v1/clients", key: plain})
	if err := json.Unmarshal(decodeEnvelope(t, r).Data, &list); err != nil || len(list) != 2 || list[0].ClientID != client ||
		list[0].Tenant != "acme_test" || len(list[0].KeyIDs) != 1 || list[0].KeyIDs[0] != kp.KeyID || list[0].TokenURL != h.url+"/auth/token" {
		t.Fatalf("list: %v %s", err, r.body)
	}
	if r := h.do(request{method: "GET", path: "/v1/clients", key: other}); !strings.Contains(string(r.body), `"data":[]`) {
		t.Errorf("another tenant sees clients: %s", r.body)
	}
	wantError(t, h.do(request{method: "DELETE", path: "/v1/clients/" + client, key: other}), 404, "client_not_found")
	if r := h.do(request{method: "DELETE", path: "/v1/clients/" + client, key: plain}); r.status != 200 || !strings.Contains(string(r.body), `"revokedAt":"`) {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := h.tokenRequest(h.tokenForm(kp, client, "system/*.read")); r.status != 401 || !strings.Contains(string(r.body), "revoked") {
		t.Errorf("token for a revoked client: %d %s", r.status, r.body)
	}
}

// TestDiscovery: the CapabilityStatement and the SMART configuration.
func TestDiscovery(t *testing.T) {
	h := newFHIRHarness(t, gateway.Config{})
	r := h.do(request{method: "GET", path: "/fhir/metadata"})
	var cs struct {
		ResourceType string   `json:"resourceType"`
		Instantiates []string `json:"instantiates"`
		FHIRVersion  string   `json:"fhirVersion"`
		Rest         []struct {
			Mode     string `json:"mode"`
			Security struct {
				Extension []struct {
					URL       string `json:"url"`
					Extension []struct {
						URL      string `json:"url"`
						ValueURI string `json:"valueUri"`
					} `json:"extension"`
				} `json:"extension"`
			} `json:"security"`
			Resource []struct {
				Type      string `json:"type"`
				Operation []struct {
					Name       string `json:"name"`
					Definition string `json:"definition"`
				} `json:"operation"`
			} `json:"resource"`
			Operation []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"operation"`
		} `json:"rest"`
	}
	if r.status != 200 || r.header.Get("Content-Type") != "application/fhir+json" || json.Unmarshal(r.body, &cs) != nil {
		t.Fatalf("metadata: %d %s", r.status, r.body)
	}
	rest := cs.Rest[0]
	ops := map[string]string{}
	for _, res := range rest.Resource {
		for _, op := range res.Operation {
			ops[res.Type+"/"+op.Name] = op.Definition
		}
	}
	want := map[string]string{
		"Patient/patient-export": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
		"Group/group-export":     "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
	}
	if cs.ResourceType != "CapabilityStatement" || cs.FHIRVersion != "4.0.1" || len(cs.Instantiates) != 1 ||
		cs.Instantiates[0] != "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data" || rest.Mode != "server" ||
		len(rest.Operation) != 1 || rest.Operation[0].Name != "export" ||
		rest.Operation[0].Definition != "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export" ||
		ops["Patient/patient-export"] != want["Patient/patient-export"] || ops["Group/group-export"] != want["Group/group-export"] ||
		len(rest.Resource) < 140 {
		t.Errorf("CapabilityStatement: %s", r.body)
	}
	ext := rest.Security.Extension
	if len(ext) != 1 || ext[0].URL != "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris" ||
		ext[0].Extension[0].URL != "token" || ext[0].Extension[0].ValueURI != h.url+"/auth/token" {
		t.Errorf("oauth-uris extension %+v", ext)
	}
	for _, p := range []string{"/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"} {
		t.Run(p, func(t *testing.T) {
			r := h.do(request{method: "GET", path: p})
			var sc map[string]any
			if r.status != 200 || json.Unmarshal(r.body, &sc) != nil {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if sc["token_endpoint"] != h.url+"/auth/token" || !strings.Contains(string(r.body), `"private_key_jwt"`) ||
				!strings.Contains(string(r.body), `"RS384","ES384"`) || !strings.Contains(string(r.body), `"client_credentials"`) ||
				!strings.Contains(string(r.body), `"system/*.rs"`) {
				t.Errorf("smart-configuration: %s", r.body)
			}
		})
	}
}
