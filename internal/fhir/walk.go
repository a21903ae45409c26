package fhir

import "bytes"

// The helpers here read JSON without allocating, for the exporter's per
// record work (compartment membership, _typeFilter, _elements) at about
// 100,000 records a second. Like rawjson.go they trust the JSON to be valid
// (the store keeps only compacted, validated resources) and stay inside the
// slice whatever it holds: garbage gives a wrong answer, never a panic.

// eachMember calls fn with the key token (quoted) and the value of every
// member of the object obj, in order, until fn returns false. It reports
// whether fn never asked to stop.
func eachMember(obj []byte, fn func(key, val []byte) bool) bool {
	i := skipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return true
	}
	i = skipWS(obj, i+1)
	for i < len(obj) && obj[i] == '"' {
		ke := skipString(obj, i)
		vs := skipWS(obj, ke)
		if vs < len(obj) && obj[vs] == ':' {
			vs = skipWS(obj, vs+1)
		}
		ve := skipValue(obj, vs)
		if ve <= vs {
			return true
		}
		if !fn(obj[i:ke], obj[vs:ve]) {
			return false
		}
		i = skipWS(obj, ve)
		if i < len(obj) && obj[i] == ',' {
			i = skipWS(obj, i+1)
		}
	}
	return true
}

// eachElement calls fn with every element of the array arr until fn
// returns false, and reports whether fn never asked to stop.
func eachElement(arr []byte, fn func(v []byte) bool) bool {
	i := skipWS(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return true
	}
	i = skipWS(arr, i+1)
	for i < len(arr) && arr[i] != ']' {
		e := skipValue(arr, i)
		if e <= i {
			return true
		}
		if !fn(arr[i:e]) {
			return false
		}
		i = skipWS(arr, e)
		if i < len(arr) && arr[i] == ',' {
			i = skipWS(arr, i+1)
		}
	}
	return true
}

// keyIs reports whether the key token (with its quotes) names name.
func keyIs(key []byte, name string) bool {
	if len(key) == len(name)+2 && bytes.IndexByte(key, '\\') < 0 {
		return string(key[1:len(key)-1]) == name
	}
	return bytes.IndexByte(key, '\\') >= 0 && unquote(key) == name
}

// keyText returns the text of a key token without allocating when it has
// no escapes; the result must not be kept.
func keyText(key []byte) []byte {
	if len(key) >= 2 && bytes.IndexByte(key, '\\') < 0 {
		return key[1 : len(key)-1]
	}
	return []byte(unquote(key))
}

// memberValue returns the value of the member name of the object obj, or
// nil when it has none.
func memberValue(obj []byte, name string) []byte {
	var out []byte
	eachMember(obj, func(k, v []byte) bool {
		if keyIs(k, name) {
			out = v
			return false
		}
		return true
	})
	return out
}

// stringValue returns the text of a JSON string value, or "" and false
// when v is not a string.
func stringValue(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1]), true
	}
	return unquote(v), true
}

// memberString returns the string member name of obj, "" when absent or
// not a string.
func memberString(obj []byte, name string) string {
	s, _ := stringValue(memberValue(obj, name))
	return s
}
