// Package apikeys issues, checks and revokes the API keys clients send in
// the x-api-key header.
//
// A key is "clk_test_" or "clk_live_" followed by 40 random base62
// characters. Its mode and customer give the tenant it reads and writes
// (events.TenantOf), so a test key never sees live data. The plain key is
// returned once by [Keys.Create] and never stored: the KV bucket
// events.BucketAPIKeys keeps a record under the hex SHA-256 of the key, so
// authenticating is one bucket read and a stolen bucket yields no usable key.
//
// [Keys] is safe for concurrent use; all its state is in the bucket.
package apikeys
