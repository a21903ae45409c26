// Package webhooks holds everything about jetexport's webhooks that is not
// the delivery loop itself (that is services/notifier):
//
//   - the subscription store in the KV bucket webhooks ([Store]): per-tenant
//     subscriptions with their signing secrets, and one default secret per
//     tenant for the one-off webhookUrl of a kick-off body. The gateway's
//     /v1/webhooks handlers are thin wrappers over [ParseCreate],
//     [Store.Create], [Store.List], [Store.Get], [Store.Delete],
//     [ParseRotate], [Store.Rotate] and [Store.DefaultSecret];
//   - Standard Webhooks signatures ([Sign], [SignatureHeader], [Verify],
//     [VerifyRequest]): headers webhook-id, webhook-timestamp and
//     webhook-signature, HMAC-SHA256 over "id.timestamp.body" with the
//     base64 part of a "whsec_" secret;
//   - the destination address policy ([Policy]): https only for live
//     tenants, no loopback, private, link-local or metadata addresses unless
//     the operator allows them, checked when a URL is registered
//     ([Policy.CheckURL]) and again on the resolved IP when connecting
//     ([Policy.Client]), so that DNS rebinding does not get around it;
//   - the JSON delivered to receivers ([Payload]).
//
// Everything here is safe for concurrent use. The package returns errors and
// never logs.
package webhooks
