package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/jetexport/jetexport/internal/smart"
)

// clientBody is the body of POST /v1/clients.
type clientBody struct {
	Name    string          `json:"name"`
	Scope   string          `json:"scope"`
	JWKS    json.RawMessage `json:"jwks"`
	JWKSURL string          `json:"jwksUrl"`
}

// clientView is a registered SMART client as /v1 shows it.
type clientView struct {
	ClientID  string   `json:"clientId"`
	Tenant    string   `json:"tenant"`
	Name      string   `json:"name"`
	Scope     string   `json:"scope"`
	JWKSURL   *string  `json:"jwksUrl"`
	KeyIDs    []string `json:"keyIds"`
	TokenURL  string   `json:"tokenUrl"`
	CreatedAt string   `json:"createdAt"`
	RevokedAt *string  `json:"revokedAt"`
}

// registerClient handles POST /v1/clients: the key's tenant registers a
// SMART Backend Services client with its public keys and allowed scopes.
func (g *Gateway) registerClient(c *fiber.Ctx) error {
	if err := requireContentType(c.Get(fiber.HeaderContentType), contentJSON); err != nil {
		return err
	}
	body, err := requestBody(c, g.cfg.ExportBodyLimit)
	if err != nil {
		return err
	}
	var b clientBody
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&b); err != nil {
		return fail(kindInvalid, `the body is not a JSON object such as {"scope":"system/*.read","jwks":{"keys":[...]}}: %s`, jsonProblem(err)).withCode("invalid_json")
	}
	if string(b.JWKS) == "null" {
		b.JWKS = nil
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), readTimeout)
	defer cancel()
	key := keyOf(c)
	client, err := g.smart.Registry().Register(ctx, smart.Registration{Tenant: key.Tenant, Name: b.Name,
		Scope: b.Scope, JWKS: b.JWKS, JWKSURL: b.JWKSURL})
	if errors.Is(err, smart.ErrInvalidClient) {
		var details []detail
		for _, e := range splitJoined(err) {
			msg := strings.TrimPrefix(e.Error(), smart.ErrInvalidClient.Error()+": ")
			details = append(details, detail{Field: clientField(msg), Message: msg})
		}
		return invalidParams(details).withCode("invalid_client")
	}
	if err != nil {
		return unavailable("the client registry", err)
	}
	g.log.Info().Str("request_id", g.requestID(c)).Str("tenant", string(key.Tenant)).
		Str("client_id", client.ID).Msg("SMART client registered")
	return g.respond(c, fiber.StatusCreated, g.toClientView(c, client))
}

// clientField names the body field a registration problem is about.
func clientField(msg string) string {
	for _, f := range []string{"jwksUrl", "jwks", "scope", "name", "tenant"} {
		if strings.HasPrefix(msg, f) {
			return f
		}
	}
	return "jwks"
}

// listClients handles GET /v1/clients: the key's tenant's clients.
func (g *Gateway) listClients(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), readTimeout)
	defer cancel()
	clients, err := g.smart.Registry().List(ctx, keyOf(c).Tenant)
	if err != nil {
		return unavailable("the client registry", err)
	}
	views := make([]clientView, 0, len(clients))
	for _, cl := range clients {
		views = append(views, g.toClientView(c, cl))
	}
	return g.respond(c, fiber.StatusOK, views)
}

// revokeClient handles DELETE /v1/clients/{clientId}: the client gets no
// more tokens; tokens already issued expire within minutes.
func (g *Gateway) revokeClient(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), readTimeout)
	defer cancel()
	id := utils.CopyString(c.Params("clientId"))
	client, err := g.smart.Registry().Revoke(ctx, keyOf(c).Tenant, id)
	if errors.Is(err, smart.ErrUnknownClient) {
		return fail(kindNotFound, "no client %q for this API key's tenant", truncate(id, 64)).withCode("client_not_found")
	}
	if err != nil {
		return unavailable("the client registry", err)
	}
	return g.respond(c, fiber.StatusOK, g.toClientView(c, client))
}

func (g *Gateway) toClientView(c *fiber.Ctx, cl smart.Client) clientView {
	v := clientView{ClientID: cl.ID, Tenant: string(cl.Tenant), Name: cl.Name, Scope: cl.Scope,
		KeyIDs: cl.KeyIDs(), TokenURL: g.tokenURL(c), CreatedAt: *rfc3339(&cl.CreatedAt), RevokedAt: rfc3339(cl.RevokedAt)}
	if cl.JWKSURL != "" {
		v.JWKSURL = &cl.JWKSURL
	}
	if v.KeyIDs == nil {
		v.KeyIDs = []string{}
	}
	return v
}
