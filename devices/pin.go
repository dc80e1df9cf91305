package devices

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// PIN length limits. The minimum is configurable (Settings.PINMinLength)
// within PINMinLength..PINMaxLength.
const (
	PINMinLength = 4
	PINMaxLength = 12
)

// PINPolicy is the rule a new PIN must pass.
//
// A PIN is 0-9 digits only (other scripts' digits, such as Arabic-Indic
// "١٢٣٤" or full-width "１２３４", are refused, because a handheld's
// keypad may not be able to type them again), MinLength to 12 of them.
// Unless AllowTrivial is set, it also refuses a PIN that is one digit
// repeated (1111), a straight ascending or descending run (1234, 0123,
// 9876) or one of the most common PINs (commonPIN, pincommon.go).
//
// Refusals are *PolicyError with Secret "pin" and one of the rules
// "too_short", "too_long", "not_digits", "not_ascii_digits", "repeated",
// "sequence", "common". The error never contains the PIN.
type PINPolicy struct {
	// MinLength is the fewest digits, 4..12; 0 means 4, and values
	// outside the range are clamped into it.
	MinLength int
	// AllowTrivial turns off the repeated, sequence and common checks.
	AllowTrivial bool
}

// Check returns nil when pin passes the policy, a *PolicyError otherwise.
func (p PINPolicy) Check(pin string) error {
	min := p.MinLength
	if min < PINMinLength {
		min = PINMinLength
	}
	if min > PINMaxLength {
		min = PINMaxLength
	}
	if pin == "" {
		return pinRefused("too_short", "a PIN is required")
	}
	if !utf8.ValidString(pin) {
		return pinRefused("not_digits", "a PIN has only the digits 0 to 9")
	}
	otherDigits := false
	for _, r := range pin {
		switch {
		case r >= '0' && r <= '9':
		case unicode.IsDigit(r):
			otherDigits = true
		default:
			return pinRefused("not_digits", "a PIN has only the digits 0 to 9, with no letters, spaces or signs")
		}
	}
	if otherDigits {
		return pinRefused("not_ascii_digits",
			"a PIN uses the digits 0 to 9 only; digits of other scripts or full-width digits are not accepted")
	}
	switch {
	case len(pin) < min:
		return pinRefused("too_short", "a PIN has at least "+strconv.Itoa(min)+" digits")
	case len(pin) > PINMaxLength:
		return pinRefused("too_long", "a PIN has at most "+strconv.Itoa(PINMaxLength)+" digits")
	}
	if p.AllowTrivial {
		return nil
	}
	if repeatedDigit(pin) {
		return pinRefused("repeated", "a PIN may not be one digit repeated")
	}
	if straightRun(pin) {
		return pinRefused("sequence", "a PIN may not be a run of consecutive digits, counting up or down")
	}
	if commonPIN(pin) {
		return pinRefused("common", "this PIN is one of the most commonly used and is easy to guess")
	}
	return nil
}

func pinRefused(rule, reason string) *PolicyError {
	return &PolicyError{Secret: "pin", Rule: rule, Reason: reason}
}

// repeatedDigit reports whether every digit of pin is the same.
func repeatedDigit(pin string) bool {
	for i := 1; i < len(pin); i++ {
		if pin[i] != pin[0] {
			return false
		}
	}
	return true
}

// straightRun reports whether each digit is one more than the one before
// (0123, 3456) or each one less (9876, 3210). There is no wrap-around.
func straightRun(pin string) bool {
	if len(pin) < 2 {
		return false
	}
	step := int(pin[1]) - int(pin[0])
	if step != 1 && step != -1 {
		return false
	}
	for i := 2; i < len(pin); i++ {
		if int(pin[i])-int(pin[i-1]) != step {
			return false
		}
	}
	return true
}
