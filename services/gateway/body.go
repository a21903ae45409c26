package gateway

import (
	"bytes"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/klauspost/compress/gzip"
)

// requestBody returns a copy of the request body, at most limit bytes once
// decompressed. Bodies may be sent gzip-compressed (Content-Encoding:
// gzip); the limit applies to what they decompress to, so a small
// compressed body cannot expand without bound. (Fiber's Ctx.Body would
// decompress without a bound, and again on every call.)
func requestBody(c *fiber.Ctx, limit int) ([]byte, error) {
	raw := c.Request().Body()
	switch enc := strings.ToLower(strings.TrimSpace(c.Get(fiber.HeaderContentEncoding))); enc {
	case "", "identity":
		if len(raw) > limit {
			return nil, fail(kindTooLarge, "the request body is %d bytes; the limit is %d", len(raw), limit)
		}
		return bytes.Clone(raw), nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fail(kindInvalid, "the body is not valid gzip: %v", err).withCode("invalid_encoding")
		}
		body, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
		if err != nil {
			return nil, fail(kindInvalid, "the body is not valid gzip: %v", err).withCode("invalid_encoding")
		}
		if len(body) > limit {
			return nil, fail(kindTooLarge, "the request body decompresses to more than the limit of %d bytes", limit)
		}
		return body, nil
	default:
		return nil, fail(kindUnsupportedMedia, "Content-Encoding %q is not supported; send the body uncompressed or gzip-compressed", truncate(enc, 32))
	}
}
