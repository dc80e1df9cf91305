package devices

// The common-PIN rules. People do not choose PINs uniformly. The
// published frequency analyses of leaked and surveyed PINs (the usual
// one is DataGenetics' 2012 analysis of 3.4 million four-digit PINs, by
// Nick Berry) find the same structure at the top of the list, whatever
// the source: one digit repeated and straight runs (the repeated and
// sequence rules), a pair of digits repeated (1212, 6969), digits
// doubled (1122), mirrors (1221), years (1984, 2001), dates as month and
// day or day and month (0101, 1225, 3112), shapes on the phone keypad
// (2580 down the middle column, 1470, 1397 the corners, 1236), steps of
// two (2468, 1357), three digits the same and one other (1000, 0001),
// and a few numbers with a meaning (1004, 5150, 1337).
//
// These rules are written from that structure; no list of PINs from a
// third party is copied here. Over the 10,000 four-digit PINs they
// refuse 1,344 with the repeated and sequence rules (TestCommonPINs
// counts them; docs/REGISTRY.md and docs/SECURITY.md give the figures), which is the size of blocklist that the
// analyses suggest covers the PINs an attacker tries first. Longer PINs
// get the same shapes at their length: a block repeated (123123,
// 12341234), mirrors (123321), digits doubled (112233), steps of two,
// keypad lines joined (147258, 159753) and walks round the keypad's edge
// (14789632), dates with two- or four-digit years (DDMMYY, MMDDYY,
// YYMMDD; DDMMYYYY, MMDDYYYY, YYYYMMDD for 1900 to 2039).

// commonPIN reports whether pin (ASCII digits, 4 to 12 of them) has the
// shape of a commonly chosen PIN. The repeated and sequence rules are
// checked before it.
func commonPIN(pin string) bool {
	n := len(pin)
	if n < PINMinLength {
		return false
	}
	if periodic(pin) || palindrome(pin) || doubledDigits(pin) || progression(pin) ||
		keypadLines(pin) || keypadRing(pin) {
		return true
	}
	if _, ok := meaningfulPINs[pin]; ok {
		return true
	}
	switch n {
	case 4:
		return allButOne(pin) || year(pin, 0, 4) || monthDay(pin[:2], pin[2:]) || monthDay(pin[2:], pin[:2]) ||
			keypadShape4(pin)
	case 6:
		// DDMMYY, MMDDYY, YYMMDD (any two-digit year).
		return monthDay(pin[2:4], pin[:2]) || monthDay(pin[:2], pin[2:4]) || monthDay(pin[2:4], pin[4:])
	case 8:
		// DDMMYYYY, MMDDYYYY, YYYYMMDD.
		return (year(pin, 4, 8) && (monthDay(pin[2:4], pin[:2]) || monthDay(pin[:2], pin[2:4]))) ||
			(year(pin, 0, 4) && monthDay(pin[4:6], pin[6:]))
	}
	return false
}

// periodic: a block of at most half the PIN repeated (1212, 12121,
// 123123, 12341234).
func periodic(pin string) bool {
	for p := 1; p <= len(pin)/2; p++ {
		same := true
		for i := p; i < len(pin) && same; i++ {
			same = pin[i] == pin[i-p]
		}
		if same {
			return true
		}
	}
	return false
}

// palindrome: the PIN reads the same backwards (1221, 12321, 123321).
func palindrome(pin string) bool {
	for i, j := 0, len(pin)-1; i < j; i, j = i+1, j-1 {
		if pin[i] != pin[j] {
			return false
		}
	}
	return true
}

// doubledDigits: each digit typed twice (1122, 112233).
func doubledDigits(pin string) bool {
	if len(pin)%2 != 0 {
		return false
	}
	for i := 0; i < len(pin); i += 2 {
		if pin[i] != pin[i+1] {
			return false
		}
	}
	return true
}

// progression: each digit the one before plus the same step, for steps
// of ±1 counting round from 9 to 0 (7890, 9012, 2109) and ±2 without
// wrapping (2468, 1357, 8642, 13579).
func progression(pin string) bool {
	for _, step := range []int{1, -1} {
		ok := true
		for i := 1; i < len(pin) && ok; i++ {
			ok = (int(pin[i]-'0')-int(pin[i-1]-'0')-step+20)%10 == 0
		}
		if ok {
			return true
		}
	}
	for _, step := range []int{2, -2} {
		ok := true
		for i := 1; i < len(pin) && ok; i++ {
			ok = int(pin[i])-int(pin[i-1]) == step
		}
		if ok {
			return true
		}
	}
	return false
}

// allButOne: one digit repeated and another at one end (1000, 0001,
// 2221).
func allButOne(pin string) bool {
	return repeatedDigit(pin[1:]) || repeatedDigit(pin[:len(pin)-1])
}

// year: pin[from:to] is a four-digit year from 1900 to 2039.
func year(pin string, from, to int) bool {
	if to-from != 4 {
		return false
	}
	y := atoi(pin[from:to])
	return y >= 1900 && y <= 2039
}

// monthDay: mm and dd (two digits each) are a day of the year (29
// February included).
func monthDay(mm, dd string) bool {
	m, d := atoi(mm), atoi(dd)
	days := [...]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	return m >= 1 && m <= 12 && d >= 1 && d <= days[m]
}

func atoi(s string) int {
	v := 0
	for i := 0; i < len(s); i++ {
		v = v*10 + int(s[i]-'0')
	}
	return v
}

// The phone keypad: row and column of each digit.
//
//	1 2 3
//	4 5 6
//	7 8 9
//	  0
var keyPos = [10][2]int{{3, 1}, {0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}, {1, 2}, {2, 0}, {2, 1}, {2, 2}}

func keyAt(r, c int) (byte, bool) {
	for d, p := range keyPos {
		if p == [2]int{r, c} {
			return byte('0' + d), true
		}
	}
	return 0, false
}

// keypadLine3 are the straight lines of three keys, both ways: rows,
// columns (with 5-8-0), diagonals.
var keypadLine3 = func() map[string]bool {
	m := map[string]bool{}
	dirs := [][2]int{{0, 1}, {1, 0}, {1, 1}, {1, -1}, {0, -1}, {-1, 0}, {-1, -1}, {-1, 1}}
	for d := range 10 {
		for _, dir := range dirs {
			p := keyPos[d]
			b, ok := keyAt(p[0]+dir[0], p[1]+dir[1])
			if !ok {
				continue
			}
			c, ok := keyAt(p[0]+2*dir[0], p[1]+2*dir[1])
			if !ok {
				continue
			}
			m[string([]byte{byte('0' + d), b, c})] = true
		}
	}
	return m
}()

// keypadLines: PINs of 6 or 9 digits made of straight lines of three
// keys (147258, 159753, 789456, 147258369).
func keypadLines(pin string) bool {
	if len(pin)%3 != 0 || len(pin) < 6 {
		return false
	}
	for i := 0; i < len(pin); i += 3 {
		if !keypadLine3[pin[i:i+3]] {
			return false
		}
	}
	return true
}

// keypadRing is the keypad's edge, clockwise from 1.
const keypadRing8 = "12369874"

// keypadRing: 4 to 8 keys walked along the keypad's edge either way from
// any key (1236, 7412, 14789632, 12369874).
func keypadRing(pin string) bool { return keypadRingOf(pin, keypadRing8) }

// keypadRingOf: pin is a stretch of the closed walk cycle, either way,
// from any of its keys, at most once round.
func keypadRingOf(pin, cycle string) bool {
	if len(pin) > len(cycle) {
		return false
	}
	ring := cycle + cycle
	rev := []byte(ring)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	for _, r := range []string{ring, string(rev)} {
		for s := 0; s < len(cycle); s++ {
			if r[s:s+len(pin)] == pin {
				return true
			}
		}
	}
	return false
}

// adjacentKeys: a and b touch on the keypad, diagonals included.
func adjacentKeys(a, b byte) bool {
	pa, pb := keyPos[a-'0'], keyPos[b-'0']
	dr, dc := pa[0]-pb[0], pa[1]-pb[1]
	return a != b && dr >= -1 && dr <= 1 && dc >= -1 && dc <= 1
}

// keypadShape4: four-digit keypad shapes: a straight line of three keys
// and a key touching either end (2580, 0852, 1470, 3690, 7896); the
// middle column read round from any key (0258, 8520); the
// four corners or the four middles of the edges in any order (1397,
// 7913, 2468, 4826); a square of four keys walked round (1254, 5896).
func keypadShape4(pin string) bool {
	if lineAndKey(pin) {
		return true
	}
	// The middle column, the one line of four keys, read round from any
	// of its keys either way (2580, 5802, 0258, 8520).
	if keypadRingOf(pin, "2580") {
		return true
	}
	for _, set := range []string{"1379", "2468"} {
		if sameDigits(pin, set) {
			return true
		}
	}
	// A square walked round: four distinct keys, each touching the next
	// and the last touching the first, within two rows and two columns.
	if distinctDigits(pin) == 4 {
		minR, maxR, minC, maxC := 9, -1, 9, -1
		for i := 0; i < 4; i++ {
			p := keyPos[pin[i]-'0']
			minR, maxR, minC, maxC = min(minR, p[0]), max(maxR, p[0]), min(minC, p[1]), max(maxC, p[1])
		}
		if maxR-minR == 1 && maxC-minC == 1 {
			square := true
			for i := 0; i < 4 && square; i++ {
				a, b := keyPos[pin[i]-'0'], keyPos[pin[(i+1)%4]-'0']
				square = a[0] == b[0] || a[1] == b[1]
			}
			if square {
				return true
			}
		}
	}
	return false
}

func sameDigits(pin, set string) bool {
	if len(pin) != len(set) || distinctDigits(pin) != len(pin) {
		return false
	}
	for i := 0; i < len(pin); i++ {
		found := false
		for j := 0; j < len(set); j++ {
			found = found || pin[i] == set[j]
		}
		if !found {
			return false
		}
	}
	return true
}

func distinctDigits(pin string) int {
	var seen [10]bool
	n := 0
	for i := 0; i < len(pin); i++ {
		if d := pin[i] - '0'; !seen[d] {
			seen[d], n = true, n+1
		}
	}
	return n
}

// meaningfulPINs are numbers chosen for what they mean, which no shape
// rule catches: slang and culture (1004, 5150, 1337, 0420, 4200, 0069),
// and a few famous constants and sequences at six digits and more.
var meaningfulPINs = map[string]struct{}{
	"1004": {}, "5150": {}, "1337": {}, "0420": {}, "4200": {}, "0069": {}, "7777": {}, "0911": {}, "9111": {},
	"314159": {}, "142857": {}, "112358": {}, "271828": {}, "8675309": {}, "3141592": {}, "1123581321": {},
	"520520": {}, "5201314": {}, "101010": {}, "102030": {}, "100200": {}, "123000": {}, "200000": {}, "100000": {},
	"246810": {}, "159357": {}, "753951": {}, "951753": {}, "147369": {}, "741852": {}, "963852": {}, "852456": {},
	"258456": {}, "123654": {}, "654123": {}, "123789": {}, "147852": {}, "789456": {},
}

// lineAndKey: a straight line of three keys and a fourth key touching
// its last one, or a key touching its first one and the line.
func lineAndKey(pin string) bool {
	if keypadLine3[pin[:3]] && adjacentKeys(pin[2], pin[3]) && pin[3] != pin[1] && pin[3] != pin[0] {
		return true
	}
	return keypadLine3[pin[1:]] && adjacentKeys(pin[0], pin[1]) && pin[0] != pin[2] && pin[0] != pin[3]
}
