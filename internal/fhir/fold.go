package fhir

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// FHIR string search ignores case and accents. Full accent folding needs
// Unicode decomposition tables; the Latin letters below cover the names
// and places of the data this server sees (Muñoz matches munoz, Zoë zoe).

// accentGroups lists a base letter followed by the lower-case letters that
// fold to it.
const accentGroups = "aàáâãäåāăą cçćĉċč dðďđ eèéêëēĕėęě gĝğġģ hĥħ iìíîïĩīĭįı jĵ kķ lĺļľŀł nñńņňŉ oòóôõöøōŏő rŕŗř sśŝşšſ tţťŧ uùúûüũūŭůűų wŵ yýÿŷ zźżž"

// accentFold maps an accented lower-case letter to its base letter.
var accentFold = func() map[rune]rune {
	m := map[rune]rune{}
	for g := range strings.FieldsSeq(accentGroups) {
		base, size := utf8.DecodeRuneInString(g)
		for _, r := range g[size:] {
			m[r] = base
		}
	}
	return m
}()

// foldRune lower-cases r and strips its accent.
func foldRune(r rune) rune {
	r = unicode.ToLower(r)
	if r < 0x80 {
		return r
	}
	if b, ok := accentFold[r]; ok {
		return b
	}
	return r
}

// fold returns s lower-cased and without the accents above.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || (c >= 'A' && c <= 'Z') {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	return strings.Map(foldRune, s)
}

// hasPrefixFold reports whether s starts with prefix, which is already
// folded, ignoring case and accents in s. It does not allocate.
func hasPrefixFold(s, prefix string) bool {
	for prefix != "" {
		if s == "" {
			return false
		}
		r, n := utf8.DecodeRuneInString(s)
		p, m := utf8.DecodeRuneInString(prefix)
		if foldRune(r) != p {
			return false
		}
		s, prefix = s[n:], prefix[m:]
	}
	return true
}
