package exporter

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// digestHex turns the object store's "SHA-256=<base64url>" digest into the
// hex form the events carry.
func digestHex(d string) string {
	b64, ok := strings.CutPrefix(d, "SHA-256=")
	if !ok {
		return d
	}
	raw, err := base64.URLEncoding.DecodeString(b64)
	if err != nil {
		return d
	}
	return hex.EncodeToString(raw)
}
