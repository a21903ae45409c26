package fhir

import (
	"fmt"
	"strings"
)

// path is a FHIRPath expression of the simple kind that search parameters
// and compartment definitions use, reduced to the JSON members it reads:
// "subject", "performer.actor", "effective[x]", "telecom[system=email]",
// "subject@Patient". Arrays are entered implicitly, as FHIRPath does.
type path struct {
	steps []step
	// refType keeps only references to this resource type: FHIRPath's
	// ".where(resolve() is Patient)".
	refType string
}

// step is one member name of a path.
type step struct {
	name string
	// choice: the element is name[x], stored under name + a type name
	// (effectiveDateTime, effectivePeriod).
	choice bool
	// whereKey and whereVal keep only the elements whose string member
	// whereKey is whereVal (telecom[system=email]).
	whereKey, whereVal string
}

// parsePath parses one path of the syntax above.
func parsePath(s string) (path, error) {
	var p path
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s, p.refType = s[:i], s[i+1:]
		if !IsResourceType(p.refType) {
			return path{}, fmt.Errorf("path %q: %q is not a resource type", s, p.refType)
		}
	}
	for _, name := range strings.Split(s, ".") {
		var st step
		if base, ok := strings.CutSuffix(name, "[x]"); ok {
			st.choice, name = true, base
		} else if i := strings.IndexByte(name, '['); i >= 0 && strings.HasSuffix(name, "]") {
			cond := name[i+1 : len(name)-1]
			k, v, ok := strings.Cut(cond, "=")
			if !ok || !validElementName(k) || v == "" {
				return path{}, fmt.Errorf("path %q: bad condition %q", s, cond)
			}
			st.whereKey, st.whereVal, name = k, v, name[:i]
		}
		if !validElementName(name) {
			return path{}, fmt.Errorf("path %q: bad member name %q", s, name)
		}
		st.name = name
		p.steps = append(p.steps, st)
	}
	return p, nil
}

// mustPaths parses alternatives separated by " | " in the package's own
// tables, where a bad path is a bug that the tests catch at once.
func mustPaths(s string) []path {
	var out []path
	for _, alt := range strings.Split(s, "|") {
		p, err := parsePath(strings.TrimSpace(alt))
		if err != nil {
			panic("fhir: " + err.Error())
		}
		out = append(out, p)
	}
	return out
}

// validElementName reports whether s can be the name of a FHIR element:
// an ASCII letter followed by letters and digits.
func validElementName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// each calls fn with every value the path reaches from the object obj,
// until fn returns false; it reports whether fn never asked to stop.
// Values are JSON values: strings, objects (a Reference, a CodeableConcept),
// never arrays, which are walked into. refType is not applied here: the
// caller reads the references.
func (p path) each(obj []byte, fn func(v []byte) bool) bool {
	return walk(obj, p.steps, fn)
}

// walk follows steps from v, entering arrays.
func walk(v []byte, steps []step, fn func(v []byte) bool) bool {
	if len(v) == 0 {
		return true
	}
	if v[0] == '[' {
		return eachElement(v, func(e []byte) bool { return walk(e, steps, fn) })
	}
	if len(steps) == 0 {
		return fn(v)
	}
	if v[0] != '{' {
		return true
	}
	st := steps[0]
	if st.choice {
		return eachMember(v, func(k, val []byte) bool {
			if isChoiceKey(keyText(k), st.name) {
				return walk(val, steps[1:], fn)
			}
			return true
		})
	}
	val := memberValue(v, st.name)
	if val == nil {
		return true
	}
	if st.whereKey == "" {
		return walk(val, steps[1:], fn)
	}
	where := func(e []byte) bool {
		if e[0] == '{' && memberString(e, st.whereKey) == st.whereVal {
			return walk(e, steps[1:], fn)
		}
		return true
	}
	if val[0] == '[' {
		return eachElement(val, where)
	}
	return where(val)
}

// isChoiceKey reports whether key is base followed by a type name, as a
// choice element base[x] is stored in JSON: valueQuantity, effectivePeriod.
func isChoiceKey(key []byte, base string) bool {
	return len(key) > len(base) && string(key[:len(base)]) == base &&
		key[len(base)] >= 'A' && key[len(base)] <= 'Z'
}

// SplitReference splits a FHIR reference into its type and id:
// "Patient/123", "Patient/123/_history/2", an absolute URL ending in
// Patient/123, and "urn:uuid:<id>" (type unknown, so ""). Anything else (a
// contained "#x", a conditional reference, a bad type or id) gives "", "".
func SplitReference(ref string) (typ, id string) {
	if rest, ok := strings.CutPrefix(ref, "urn:uuid:"); ok {
		if ValidID(rest) {
			return "", rest
		}
		return "", ""
	}
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	j := strings.LastIndexByte(ref, '/')
	if j <= 0 {
		return "", ""
	}
	id, rest := ref[j+1:], ref[:j]
	k := strings.LastIndexByte(rest, '/')
	typ = rest[k+1:]
	if k >= 0 && !strings.Contains(rest[:k], "://") {
		return "", "" // "a/Patient/1" is neither relative nor absolute
	}
	if !IsResourceType(typ) || !ValidID(id) {
		return "", ""
	}
	return typ, id
}

// referenceOf returns the reference a value holds: the member reference of
// a Reference object, or the value itself when it is a string (a
// canonical or uri pointing at a resource).
func referenceOf(v []byte) string {
	if len(v) > 0 && v[0] == '{' {
		return memberString(v, "reference")
	}
	s, _ := stringValue(v)
	return s
}
