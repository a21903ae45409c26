package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// The functions here walk JSON that encoding/json has already validated
// (json.Valid or json.Compact), without building maps: they keep the members
// in their order and cost a fraction of a decode. They stay inside the slice
// whatever it holds, so a bug yields a wrong answer, never a panic.

// skipWS returns the index of the first byte at or after i that is not JSON
// whitespace.
func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just after the string token starting at
// b[i] (a quote). It jumps from quote to quote with bytes.IndexByte and
// counts the backslashes before each to tell an escaped one.
func skipString(b []byte, i int) int {
	j := i + 1
	for j < len(b) {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b)
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
	return len(b)
}

// skipValue returns the index just after the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default: // number, true, false, null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return len(b)
	}
}

// member is one member of a JSON object: its key token (with quotes) and
// its value, both sub-slices of the object.
type member struct {
	key, val []byte
}

// name returns the member's key unescaped.
func (m member) name() string { return unquote(m.key) }

// is reports whether the member's key is name.
func (m member) is(name string) bool {
	k := m.key
	if len(k) >= 2 && bytes.IndexByte(k, '\\') < 0 {
		return string(k[1:len(k)-1]) == name
	}
	return m.name() == name
}

// members returns the members of the object obj, in order. obj must be a
// valid JSON object, surrounding whitespace allowed.
func members(obj []byte) []member {
	var out []member
	i := skipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil
	}
	i = skipWS(obj, i+1)
	for i < len(obj) && obj[i] == '"' {
		ke := skipString(obj, i)
		key := obj[i:ke]
		vs := skipWS(obj, ke)
		if vs < len(obj) && obj[vs] == ':' {
			vs = skipWS(obj, vs+1)
		}
		ve := skipValue(obj, vs)
		out = append(out, member{key: key, val: obj[vs:ve]})
		i = skipWS(obj, ve)
		if i < len(obj) && obj[i] == ',' {
			i = skipWS(obj, i+1)
		}
	}
	return out
}

// elements returns the elements of the array arr, in order. arr must be a
// valid JSON array, surrounding whitespace allowed.
func elements(arr []byte) [][]byte {
	var out [][]byte
	i := skipWS(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return nil
	}
	i = skipWS(arr, i+1)
	for i < len(arr) && arr[i] != ']' {
		e := skipValue(arr, i)
		if e == i {
			break
		}
		out = append(out, arr[i:e])
		i = skipWS(arr, e)
		if i < len(arr) && arr[i] == ',' {
			i = skipWS(arr, i+1)
		}
	}
	return out
}

// unquote returns the text of a valid JSON string token, or "" if tok is
// not one.
func unquote(tok []byte) string {
	if len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		return ""
	}
	if bytes.IndexByte(tok, '\\') < 0 {
		return string(tok[1 : len(tok)-1])
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return ""
	}
	return s
}

// appendQuoted appends s as a JSON string token. Ids, versions, times and
// references are plain ASCII, which takes the fast path.
func appendQuoted(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s)
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// kind names the JSON type of a valid value, for error messages.
func kind(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// compact returns data as compact JSON, or an error wrapping [ErrNotJSON]
// that says where the syntax breaks. The result never contains a newline:
// a JSON string cannot hold a raw one.
func compact(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(data))
	if err := json.Compact(&buf, data); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w: %s at byte %d", ErrNotJSON, se.Error(), se.Offset)
		}
		return nil, fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	return buf.Bytes(), nil
}

// quoteShort is strconv.Quote for messages: short and safe to print.
func quoteShort(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strconv.Quote(s)
}

// shortJSON returns a JSON value as it was sent, cut short for a message.
func shortJSON(v []byte) string {
	if len(v) > 80 {
		return string(v[:80]) + "..."
	}
	return string(v)
}
