package gateway

import (
	"github.com/gofiber/fiber/v2"

	"github.com/jetexport/jetexport/internal/fhir"
	"github.com/jetexport/jetexport/internal/smart"
)

// Canonical URLs of the Bulk Data IG and SMART.
const (
	bulkDataCapability = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"
	opExport           = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
	opPatientExport    = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"
	opGroupExport      = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"
	oauthURIs          = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
)

// capabilityStatement is the subset of a CapabilityStatement jetexport fills.
type capabilityStatement struct {
	ResourceType   string           `json:"resourceType"`
	Status         string           `json:"status"`
	Date           string           `json:"date"`
	Kind           string           `json:"kind"`
	Instantiates   []string         `json:"instantiates"`
	Software       map[string]any   `json:"software"`
	Implementation map[string]any   `json:"implementation"`
	FHIRVersion    string           `json:"fhirVersion"`
	Format         []string         `json:"format"`
	Rest           []capabilityRest `json:"rest"`
}

type capabilityRest struct {
	Mode      string               `json:"mode"`
	Security  map[string]any       `json:"security"`
	Resource  []capabilityResource `json:"resource"`
	Operation []operation          `json:"operation"`
}

type capabilityResource struct {
	Type        string           `json:"type"`
	Interaction []map[string]any `json:"interaction"`
	Operation   []operation      `json:"operation,omitempty"`
}

type operation struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
}

// metadata handles GET /fhir/metadata: a CapabilityStatement instantiating
// the Bulk Data one, with the $export operations, every R4 type the
// record endpoints serve, and the SMART token endpoint.
func (g *Gateway) metadata(c *fiber.Ctx) error {
	base := g.baseURL(c)
	var resources []capabilityResource
	for _, t := range fhir.ResourceTypes() {
		r := capabilityResource{Type: t, Interaction: []map[string]any{
			{"code": "read"}, {"code": "create"}, {"code": "update"}, {"code": "delete"}}}
		switch t {
		case "Patient":
			r.Operation = []operation{{Name: "patient-export", Definition: opPatientExport}}
		case "Group":
			r.Operation = []operation{{Name: "group-export", Definition: opGroupExport}}
		}
		resources = append(resources, r)
	}
	cs := capabilityStatement{
		ResourceType: "CapabilityStatement", Status: "active", Date: "2026-01-01", Kind: "instance",
		Instantiates:   []string{bulkDataCapability},
		Software:       map[string]any{"name": "jetexport"},
		Implementation: map[string]any{"description": "jetexport FHIR Bulk Data Access server", "url": base + "/fhir"},
		FHIRVersion:    "4.0.1", Format: []string{contentFHIR, "json"},
		Rest: []capabilityRest{{
			Mode: "server",
			Security: map[string]any{
				"extension": []any{map[string]any{"url": oauthURIs, "extension": []any{
					map[string]any{"url": "token", "valueUri": base + tokenPath}}}},
				"service": []any{map[string]any{"coding": []any{map[string]any{
					"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}}}},
				"description": "SMART Backend Services (client_credentials with private_key_jwt, RS384 or ES384) or the tenant's x-api-key",
			},
			Resource:  resources,
			Operation: []operation{{Name: "export", Definition: opExport}},
		}},
	}
	b, err := marshal(cs)
	if err != nil {
		return err
	}
	return g.writeRaw(c, fiber.StatusOK, contentFHIR, b)
}

// smartConfiguration handles GET /.well-known/smart-configuration (at the
// host root and under /fhir): how a backend service gets a token.
func (g *Gateway) smartConfiguration(c *fiber.Ctx) error {
	return g.writeJSON(c, fiber.StatusOK, map[string]any{
		"token_endpoint":                                   g.tokenURL(c),
		"grant_types_supported":                            []string{smart.GrantClientCredentials},
		"token_endpoint_auth_methods_supported":            []string{"private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []string{smart.AlgRS384, smart.AlgES384},
		// Per-type and granular scopes (system/Observation.rs?category=...)
		// are granted too; listing every type would say nothing more.
		"scopes_supported": []string{"system/*.read", "system/*.rs"},
		"capabilities":     []string{"client-confidential-asymmetric", "permission-v1", "permission-v2"},
	})
}
