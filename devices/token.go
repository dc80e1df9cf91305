package devices

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"strings"
)

// Token prefixes of API.md.
const (
	DeviceTokenPrefix  = "fgd_"
	ServiceKeyPrefix   = "fgk_"
	ManagerTokenPrefix = "fgm_"
)

// Token is a bearer secret: a device token or a service key. It prints as
// REDACTED in logs and with %v; use Reveal for the one time it is handed
// out.
type Token string

// NewToken returns prefix followed by 256 random bits in base64url.
func NewToken(prefix string) Token {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("devices: crypto/rand failed: " + err.Error())
	}
	return Token(prefix + base64.RawURLEncoding.EncodeToString(b[:]))
}

// ParseToken checks that s has the given prefix and a well-formed body of
// at least 128 bits, so that garbage never reaches a store.
func ParseToken(prefix, s string) (Token, bool) {
	body, ok := strings.CutPrefix(s, prefix)
	if !ok || len(body) < 22 || len(body) > 128 {
		return "", false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return Token(s), true
}

// Hash is the hex SHA-256 of the token: what stores keep.
func (t Token) Hash() string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// Reveal returns the secret itself.
func (t Token) Reveal() string { return string(t) }

func (t Token) String() string { return "REDACTED" }

// GoString keeps %#v from printing the secret.
func (t Token) GoString() string { return "REDACTED" }

// LogValue keeps slog from printing the secret.
func (t Token) LogValue() slog.Value { return slog.StringValue("REDACTED") }
