// Package token is the one bearer-token type of Floorgate: device
// tokens, manager tokens and service keys (package devices) and session
// tokens (package sessions) are all a prefix and 256 random bits. A
// Token prints as REDACTED everywhere a secret could leak by accident:
// with %v, %s and %#v, in slog records and in JSON. Reveal gives the
// secret for the one response that hands it out; stores keep only Hash.
//
// It imports the standard library only.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"strings"
)

// Token is a bearer secret: a prefix and a base64url body.
type Token string

// New returns prefix followed by 256 random bits in base64url (43
// characters).
func New(prefix string) Token {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("token: crypto/rand failed: " + err.Error())
	}
	return Token(prefix + base64.RawURLEncoding.EncodeToString(b[:]))
}

// Parse checks that s has the given prefix and a well-formed body (at
// least 128 bits of base64url, at most 128 characters), so that garbage
// never reaches a store.
func Parse(prefix, s string) (Token, bool) {
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

// Hash is the hex SHA-256 of the token: the only form stores keep.
func (t Token) Hash() string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// Reveal returns the secret itself.
func (t Token) Reveal() string { return string(t) }

// String keeps %v and %s from printing the secret.
func (t Token) String() string { return "REDACTED" }

// GoString keeps %#v from printing the secret.
func (t Token) GoString() string { return "REDACTED" }

// MarshalJSON keeps the secret out of JSON (slog's JSON handler, a
// struct that carries a token): responses hand the token out with Reveal.
func (t Token) MarshalJSON() ([]byte, error) { return []byte(`"REDACTED"`), nil }

// LogValue keeps slog from printing the secret.
func (t Token) LogValue() slog.Value { return slog.StringValue("REDACTED") }
