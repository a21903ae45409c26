// Package signing makes and checks the signed download URLs of export files.
//
// A signed URL is a path with three query parameters: exp (the Unix time it
// stops working), kid (the id of the key that signed it) and sig (the
// base64url HMAC-SHA256 of the path, exp and kid under that key). Whoever
// holds the URL can download the file until exp without an API key; changing
// any part of it breaks the signature.
//
// The keys live in the KV bucket events.BucketSigning, so every gateway
// process, and the same process after a restart, signs and verifies with the
// same keys. [Signer.Rotate] makes a new key the one used for signing; older
// keys stay in the bucket and keep verifying the URLs they signed until those
// expire. The bucket holds the secrets in the clear: anyone who can read it
// can forge download URLs, so guard NATS access accordingly.
//
// A [Signer] is safe for concurrent use.
package signing
