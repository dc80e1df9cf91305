package sessions

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"strings"
)

// TokenPrefix starts every session token.
const TokenPrefix = "fgs_"

// Token is a session token. It prints as REDACTED in logs and with %v;
// Reveal gives the secret for the one response that hands it out.
type Token string

// NewToken returns fgs_ followed by 256 random bits in base64url.
func NewToken() Token {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("sessions: crypto/rand failed: " + err.Error())
	}
	return Token(TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]))
}

// ParseToken checks the shape of a session token (prefix, at least 128
// bits of base64url) so that garbage never reaches a store.
func ParseToken(s string) (Token, bool) {
	body, ok := strings.CutPrefix(s, TokenPrefix)
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

// Hash is the hex SHA-256 of the token: the only form stores keep.
func (t Token) Hash() string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// Reveal returns the secret itself.
func (t Token) Reveal() string { return string(t) }

func (t Token) String() string   { return "REDACTED" }
func (t Token) GoString() string { return "REDACTED" }

// MarshalJSON keeps the secret out of JSON logs of structs that carry a
// token (slog's JSON handler, %v of a Created): responses hand the token
// out with Reveal.
func (t Token) MarshalJSON() ([]byte, error) { return []byte(`"REDACTED"`), nil }

// LogValue keeps slog from printing the secret.
func (t Token) LogValue() slog.Value { return slog.StringValue("REDACTED") }
