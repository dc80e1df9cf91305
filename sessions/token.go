package sessions

import "github.com/floorgate/floorgate/internal/token"

// TokenPrefix starts every session token.
const TokenPrefix = "fgs_"

// Token is a session token (internal/token: it prints as REDACTED in
// logs, with %v and in JSON; Reveal gives the secret for the one
// response that hands it out).
type Token = token.Token

// NewToken returns fgs_ followed by 256 random bits in base64url.
func NewToken() Token { return token.New(TokenPrefix) }

// ParseToken checks the shape of a session token (prefix, at least 128
// bits of base64url) so that garbage never reaches a store.
func ParseToken(s string) (Token, bool) { return token.Parse(TokenPrefix, s) }
