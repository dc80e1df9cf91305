package admin

import (
	"encoding/csv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// safeCSV is the writer of every CSV export: each cell goes through
// csvCell, so that a spreadsheet opening the file never runs a cell as
// a formula (CSV injection, OWASP).
type safeCSV struct{ *csv.Writer }

// Write writes rec with every cell neutralised.
func (w safeCSV) Write(rec []string) error {
	out := make([]string, len(rec))
	for i, v := range rec {
		out[i] = csvCell(v)
	}
	return w.Writer.Write(out)
}

// csvCell returns v, or v with a single quote in front when a
// spreadsheet could read it as a formula: when its first visible
// character is =, +, -, @ (or a full-width, small or other compatibility
// form of one, such as ＝ or ﹢, or the minus sign U+2212), or when it
// starts with a tab or a carriage return. "Visible" skips what a
// spreadsheet may drop or not show before reading the cell: spaces,
// zero-width and other format characters (U+200B, U+FEFF, U+2060, the
// bidirectional controls), and control characters. The quote is what
// OWASP recommends: the spreadsheet shows the cell as text, and the
// import (csvUnquote) drops it again.
//
// A cell that already starts with quotes in front of such a formula
// gets one more, so that csvUnquote gives back exactly what was
// exported, whatever it was.
func csvCell(v string) string {
	if csvQuoted(v) {
		return "'" + v
	}
	return v
}

// csvQuoted reports whether csvCell quotes v: v is risky once its
// leading single quotes are dropped.
func csvQuoted(v string) bool { return csvRisky(strings.TrimLeft(v, "'")) }

// csvRisky reports whether v needs the quote.
func csvRisky(v string) bool {
	if v == "" {
		return false
	}
	if v[0] == '\t' || v[0] == '\r' {
		return true
	}
	for _, r := range v {
		switch {
		case r == '\t' || r == '\r' || r == '\n':
			// A tab or line end after invisible characters: the cell's
			// text starts with it once they are dropped.
			return true
		case unicode.IsSpace(r), unicode.Is(unicode.Cf, r), unicode.IsControl(r), r == utf8.RuneError:
			continue
		}
		return formulaStart(r)
	}
	return false
}

// formulaStart reports whether r, or its compatibility form, is one of
// the characters a spreadsheet reads as the start of a formula.
func formulaStart(r rune) bool {
	if r == '\u2212' { // minus sign
		return true
	}
	n := norm.NFKC.String(string(r))
	return n != "" && strings.ContainsRune("=+-@", rune(n[0]))
}

// csvUnquote undoes csvCell for the import: a cell that starts with a
// single quote followed by what csvCell quotes is read without the
// quote, so that an export imports again as it was. Any other cell is
// left as it is.
func csvUnquote(v string) string {
	if rest, ok := strings.CutPrefix(v, "'"); ok && csvQuoted(rest) {
		return rest
	}
	return v
}
