package devices

// HashParams are argon2id parameters. They are stored with every hash,
// so they can be raised later: old hashes still verify and are rehashed
// on the next successful sign-in.
type HashParams struct {
	MemoryKiB uint32 // 19 MiB = 19456 by default
	Time      uint32 // passes, 2 by default
	Threads   uint8  // 1 by default
}

// DefaultHashParams are OWASP's argon2id minimum: 19 MiB, t=2, p=1.
func DefaultHashParams() HashParams { return HashParams{MemoryKiB: 19 * 1024, Time: 2, Threads: 1} }

// PasswordPolicy is what a manager password must have.
type PasswordPolicy struct {
	MinLength  int  // 12 by default
	NeedUpper  bool // at least one upper-case letter
	NeedLower  bool
	NeedDigit  bool
	NeedSymbol bool
	MaxLength  int // 256 by default, so a huge body is not hashed
}

// DefaultPasswordPolicy is at least 12 characters with upper, lower, digit and symbol.
func DefaultPasswordPolicy() PasswordPolicy {
	return PasswordPolicy{MinLength: 12, NeedUpper: true, NeedLower: true, NeedDigit: true, NeedSymbol: true, MaxLength: 256}
}
