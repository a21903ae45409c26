package gateway

import (
	"errors"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/jetexport/jetexport/internal/webhooks"
)

// The /v1/webhooks handlers are thin: internal/webhooks validates requests
// and keeps the subscriptions; these decode, call it and respond.

func (g *Gateway) createWebhook(c *fiber.Ctx) error {
	if err := requireContentType(c.Get(fiber.HeaderContentType), contentJSON); err != nil {
		return err
	}
	body, err := requestBody(c, g.cfg.ExportBodyLimit)
	if err != nil {
		return err
	}
	req, err := webhooks.ParseCreate(body)
	if err != nil {
		return webhookError(err)
	}
	created, err := g.webhooks.Create(c.UserContext(), keyOf(c).Tenant, req)
	if err != nil {
		return webhookError(err)
	}
	return g.respond(c, fiber.StatusCreated, created)
}

func (g *Gateway) listWebhooks(c *fiber.Ctx) error {
	views, err := g.webhooks.List(c.UserContext(), keyOf(c).Tenant)
	if err != nil {
		return webhookError(err)
	}
	return g.respond(c, fiber.StatusOK, views)
}

func (g *Gateway) defaultWebhookSecret(c *fiber.Ctx) error {
	secret, err := g.webhooks.DefaultSecret(c.UserContext(), keyOf(c).Tenant)
	if err != nil {
		return webhookError(err)
	}
	return g.respond(c, fiber.StatusOK, secret)
}

func (g *Gateway) getWebhook(c *fiber.Ctx) error {
	view, err := g.webhooks.Get(c.UserContext(), keyOf(c).Tenant, utils.CopyString(c.Params("id")))
	if err != nil {
		return webhookError(err)
	}
	return g.respond(c, fiber.StatusOK, view)
}

func (g *Gateway) deleteWebhook(c *fiber.Ctx) error {
	deleted, err := g.webhooks.Delete(c.UserContext(), keyOf(c).Tenant, utils.CopyString(c.Params("id")))
	if err != nil {
		return webhookError(err)
	}
	return g.respond(c, fiber.StatusOK, deleted)
}

func (g *Gateway) rotateWebhook(c *fiber.Ctx) error {
	req, err := webhooks.ParseRotate(c.Body())
	if err != nil {
		return webhookError(err)
	}
	rotated, err := g.webhooks.Rotate(c.UserContext(), keyOf(c).Tenant, utils.CopyString(c.Params("id")), req)
	if err != nil {
		return webhookError(err)
	}
	return g.respond(c, fiber.StatusOK, rotated)
}

// webhookError maps the webhooks package's errors to answers.
func webhookError(err error) error {
	var in *webhooks.InputError
	switch {
	case errors.As(err, &in):
		e := fail(kindInvalid, "%s", err.Error())
		for _, p := range in.Problems {
			e.details = append(e.details, detail{Field: p.Field, Message: p.Message})
		}
		return e
	case errors.Is(err, webhooks.ErrInvalid):
		return fail(kindInvalid, "%s", err.Error())
	case errors.Is(err, webhooks.ErrNotFound):
		return fail(kindNotFound, "no webhook subscription with that id").withCode("webhook_not_found")
	case errors.Is(err, webhooks.ErrLimit):
		return fail(kindConflict, "%s", err.Error()).withCode("webhook_limit")
	}
	return unavailable("the webhook store", err)
}
