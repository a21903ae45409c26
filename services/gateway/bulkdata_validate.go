package gateway

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/fhir"
)

// The _outputFormat values the IG lets a server take for NDJSON.
var outputFormats = []string{"application/fhir+ndjson", "application/ndjson", "ndjson"}

// The includeAssociatedData values the IG names; custom ones start with '_'.
var associatedData = []string{"LatestProvenanceResources", "RelevantProvenanceResources"}

// singleParams may be given once; the list parameters may be repeated, which
// means the same as one comma-joined value.
var singleParams = []string{"_outputFormat", "_since", "_until", "allowPartialManifests", "organizeOutputBy"}

// readKickoff validates the parameters of a kick-off at level. Under
// lenient handling, parameters this server does not support are ignored
// and listed in warnings; anything malformed is an error either way. The
// error is an *apiError listing every problem.
func readKickoff(params []rawParam, level events.Level, lenient bool, now time.Time) (kickoff, error) {
	k := kickoff{level: level, lenient: lenient}
	var details []detail
	bad := func(field, format string, args ...any) {
		details = append(details, detail{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	seen := map[string]int{}
	for _, p := range params {
		seen[p.name]++
		if seen[p.name] == 2 && slices.Contains(singleParams, p.name) {
			bad(p.name, "%s was given more than once; give it once", p.name)
		}
		if seen[p.name] > 1 && slices.Contains(singleParams, p.name) {
			continue
		}
		switch p.name {
		case "_outputFormat":
			f := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(p.value), " ", "+"))
			if !slices.Contains(outputFormats, f) {
				bad(p.name, "_outputFormat %q is not supported; this server writes application/fhir+ndjson (also accepted as application/ndjson or ndjson)", truncate(p.value, 64))
			}
		case "_since", "_until":
			t, err := instantParam(p.name, strings.TrimSpace(p.value), now)
			if err != nil {
				bad(p.name, "%v", err)
			} else if p.name == "_since" {
				k.since = t
			} else {
				k.until = t
			}
		case "_type":
			for _, t := range splitList(p.value) {
				if !fhir.IsResourceType(t) {
					bad(p.name, "_type: %s", unknownTypeMessage(t))
				} else if !slices.Contains(k.types, t) {
					k.types = append(k.types, t)
				}
			}
		case "_elements":
			k.elements = append(k.elements, p.value)
		case "_typeFilter":
			k.typeFilters = append(k.typeFilters, p.value)
		case "patient":
			for _, ref := range splitList(p.value) {
				id := strings.TrimPrefix(ref, "Patient/")
				if !fhir.ValidID(id) {
					bad(p.name, "patient %q is not a Patient reference such as Patient/123", truncate(ref, 64))
				} else if !slices.Contains(k.patients, id) {
					k.patients = append(k.patients, id)
				}
			}
		case "includeAssociatedData":
			for _, v := range splitList(p.value) {
				if !slices.Contains(associatedData, v) && !strings.HasPrefix(v, "_") {
					bad(p.name, "includeAssociatedData %q is not a value of the IG (%s) nor a custom _value", truncate(v, 64), strings.Join(associatedData, ", "))
					continue
				}
				k.warnings = append(k.warnings, fmt.Sprintf("includeAssociatedData %s: this server adds no associated data to an export", v))
			}
		case "allowPartialManifests":
			if v := strings.TrimSpace(p.value); v != "true" && v != "false" {
				bad(p.name, "allowPartialManifests %q: want true or false", truncate(v, 16))
			}
		case "organizeOutputBy":
			k.unsupported(bad, p.name, "organizeOutputBy is not supported: every output file holds resources of one type")
		default:
			k.unsupported(bad, p.name, fmt.Sprintf("%q is not a kick-off parameter of this server (it takes _outputFormat, _since, _until, _type, _elements, _typeFilter, patient, includeAssociatedData)", truncate(p.name, 64)))
		}
	}
	if level == events.LevelSystem && len(k.patients) > 0 {
		bad("patient", "patient applies to Patient- and Group-level exports, not to /fhir/$export")
	}
	if k.since != nil && k.until != nil && k.until.Before(*k.since) {
		bad("_until", "_until is before _since")
	}
	if level != events.LevelSystem {
		k.types = k.compartmentTypes(bad)
	}
	if err := fhir.ValidateElements(k.elements); err != nil {
		for _, e := range splitJoined(err) {
			bad("_elements", "%v", e)
		}
	}
	warnings, err := fhir.ValidateTypeFilters(k.typeFilters, lenient)
	if err != nil {
		for _, e := range splitJoined(err) {
			bad("_typeFilter", "%v", e)
		}
	}
	k.warnings = append(k.warnings, warnings...)
	if len(details) > 0 {
		e := invalidParams(details)
		if err != nil && errors.Is(err, fhir.ErrUnsupported) {
			e.issue = fhir.IssueNotSupported
		}
		return kickoff{}, e
	}
	return k, nil
}

// unsupported rejects a parameter, or under lenient handling ignores it
// with a warning.
func (k *kickoff) unsupported(bad func(string, string, ...any), name, msg string) {
	if k.lenient {
		k.warnings = append(k.warnings, msg+"; ignored (handling=lenient)")
		return
	}
	bad(name, "%s; send Prefer: handling=lenient to have it ignored", msg)
}

// compartmentTypes keeps the requested types that can be in a Patient
// compartment: others are an error, or ignored under lenient handling.
func (k *kickoff) compartmentTypes(bad func(string, string, ...any)) []string {
	if k.types == nil {
		return nil
	}
	var in, out []string
	for _, t := range k.types {
		if fhir.InPatientCompartment(t) {
			in = append(in, t)
		} else {
			out = append(out, t)
		}
	}
	if len(out) > 0 {
		k.unsupported(bad, "_type", fmt.Sprintf("_type %s: not in the Patient compartment, so never part of a Patient- or Group-level export", strings.Join(out, ", ")))
		if len(in) == 0 && k.lenient {
			bad("_type", "_type names no type of the Patient compartment")
		}
	}
	return in
}

// splitJoined returns the errors an errors.Join holds, or err itself.
func splitJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
