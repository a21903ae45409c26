// Package smart is jetexport's SMART Backend Services authorization
// (hl7.org/fhir/smart-app-launch/backend-services.html): the OAuth 2.0
// client_credentials grant with private_key_jwt client authentication that
// FHIR Bulk Data clients use.
//
// A tenant registers a client ([Registry.Register]) with the public half of
// its key pair, as an inline JSON Web Key Set or as a jwks_uri that is
// fetched and cached, and with the scopes it may ask for. To get an access
// token the client signs a short JWT assertion (RS384 or ES384, iss = sub =
// its client id, aud = the token URL, exp at most five minutes ahead, a
// unique jti) and posts it to the token endpoint; [Server.Issue] checks all
// of it, the signature against the registered keys (a jku header only when
// it is the registered jwks_uri), remembers the jti so that the assertion
// cannot be replayed, and grants read-only system scopes in v1
// (system/*.read) or v2 (system/*.rs, system/Observation.rs?category=...)
// syntax; write scopes are refused. The access token is opaque and
// short-lived; [Server.Authenticate] turns it back into a [Grant]: the
// tenant, the client and the [Scopes], which say per resource type what
// the client may read ([Scopes.Covers]).
//
// State lives in three KV buckets made by [Setup] ([BucketClients],
// [BucketJTIs], [BucketTokens]), so every gateway of a deployment serves the
// same clients and tokens and sees every used jti; only tokens' hashes are
// stored. Errors a client must fix are *[Error] values carrying the OAuth
// error code (invalid_request, invalid_client, invalid_scope,
// unsupported_grant_type); SMART asks for invalid_client on every failed
// assertion check (signature, aud, exp, jti replay, unknown or revoked
// client). The package does no HTTP serving and no logging: the gateway
// does both. Everything here is safe for concurrent use.
package smart
