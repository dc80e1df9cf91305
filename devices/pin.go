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
// 9876) or one of the most common PINs (commonPINs).
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
	if _, ok := commonPINs[pin]; ok {
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

// commonPINs are well-known most-used PINs that the repeated and
// sequence rules do not already catch: keypad patterns, pairs, words
// spelt on a phone keypad, years and a few famous numbers.
var commonPINs = func() map[string]struct{} {
	list := []string{
		// 4 digits: pairs and mirrors
		"1212", "1122", "1313", "1010", "2121", "2323", "3434", "4545", "1414", "1515",
		"0101", "1001", "1221", "2112", "0110", "1100", "2211", "1211", "1112", "1121",
		"6969", "4200", "0007", "0069", "1004", "1020", "1231", "2001", "2020", "5150",
		// 4 digits: keypad shapes and near-runs
		"2580", "0852", "1470", "0741", "3690", "0963", "1379", "9731", "1397", "7913",
		"2468", "1357", "8642", "7531", "1590", "7890", "0987", "1478", "1236", "1230",
		"1235", "1245", "1369", "1593", "3579", "5683", "7410", "9630", "1999",
		// 4 digits: years
		"1984", "1985", "1986", "1987", "1988", "1989", "1990", "1991", "1992", "1993",
		"1994", "1995", "1996", "1997", "1998", "2000", "2002", "2003", "2004", "2005",
		"2010", "2012", "2019", "2021", "2022", "2023", "2024", "2025",
		// 6 digits
		"123123", "121212", "112233", "123321", "111222", "159753", "147258", "789456",
		"102030", "520520", "131313", "101010", "123654", "147852", "258456", "159357",
		"741852", "852456", "963852", "000001", "121314", "232323", "246810", "369369",
		"010203", "100200", "200000", "147369", "202020", "212121", "123789", "123000",
		"654123", "696969", "112358", "314159", "142536", "100000", "110110", "778899",
		"778877", "998877", "131415", "252525", "142857", "007007", "753951", "951753",
		"555666", "456456", "789789", "159951", "147741", "258852", "369963", "135790",
		// longer
		"12341234", "11223344", "12121212", "14789632", "12369874",
	}
	m := make(map[string]struct{}, len(list))
	for _, p := range list {
		m[p] = struct{}{}
	}
	return m
}()
