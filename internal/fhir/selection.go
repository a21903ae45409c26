package fhir

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Export levels of the Bulk Data IG.
const (
	LevelSystem  = "system"
	LevelPatient = "patient"
	LevelGroup   = "group"
)

// ErrSelection is wrapped by [NewSelection]'s errors about the spec itself
// (an unknown level, a bad patient id); filter and element errors wrap
// [ErrTypeFilter], [ErrUnsupported] or [ErrElements].
var ErrSelection = errors.New("invalid export selection")

// SelectionSpec says which records an export keeps and how it shapes them:
// what an ExportRequested event carries.
type SelectionSpec struct {
	Level string // LevelSystem, LevelPatient or LevelGroup ("" is system)
	// Patients are patient ids ("123", or references "Patient/123"): the
	// patient parameter, or the Group's members. Empty at patient level
	// means every patient; empty at group level means none (an empty group
	// exports nothing).
	Patients    []string
	TypeFilters []string // raw _typeFilter values, repeated or comma-joined
	Elements    []string // raw _elements values
	Lenient     bool     // handling=lenient: drop unsupported filter parameters
}

// Selection applies a [SelectionSpec] to records one at a time, as the
// exporter streams them: Patient compartment membership at patient and group
// level, _typeFilter, then _elements. It holds no state per record or per
// type, so one Selection serves any number of goroutines at once.
type Selection struct {
	level    string
	patients map[string]struct{} // nil: any patient
	filters  map[string][]TypeFilter
	elements Elements
}

// NewSelection checks spec and prepares it. warnings list the filter
// parameters dropped under Lenient. Errors join every problem found.
func NewSelection(spec SelectionSpec) (*Selection, []string, error) {
	s := &Selection{level: spec.Level}
	if s.level == "" {
		s.level = LevelSystem
	}
	var errs []error
	switch s.level {
	case LevelSystem:
		if len(spec.Patients) > 0 {
			errs = append(errs, fmt.Errorf("%w: patients apply to a patient or group level export, not system level", ErrSelection))
		}
	case LevelPatient, LevelGroup:
		if len(spec.Patients) > 0 || s.level == LevelGroup {
			s.patients = make(map[string]struct{}, len(spec.Patients))
		}
		for _, id := range spec.Patients {
			if typ, ref := SplitReference(id); typ == "Patient" {
				id = ref // "Patient/123", as the patient parameter names one
			}
			if !ValidID(id) {
				errs = append(errs, fmt.Errorf("%w: patient id %s is not a FHIR id", ErrSelection, quoteShort(id)))
			}
			s.patients[id] = struct{}{}
		}
	default:
		errs = append(errs, fmt.Errorf("%w: level %s; want system, patient or group", ErrSelection, quoteShort(spec.Level)))
	}
	filters, warnings, err := parseTypeFilters(spec.TypeFilters, spec.Lenient, time.Now())
	if err != nil {
		errs = append(errs, err)
	}
	s.filters = map[string][]TypeFilter{}
	for typ, fs := range filters {
		// The queries of one type are OR-ed: one that keeps everything
		// (emptied under handling=lenient) makes the type unfiltered.
		if !slices.ContainsFunc(fs, TypeFilter.All) {
			s.filters[typ] = fs
		}
	}
	if s.elements, err = ParseElements(spec.Elements); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return s, warnings, nil
}

// Types returns the types to export out of requested: at system level
// requested itself (every R4 type when empty); at patient and group level
// only the Patient compartment types among requested (all of them when
// requested is empty), since nothing outside a compartment may leak into
// such an export. The result is a new slice.
func (s *Selection) Types(requested []string) []string {
	if s.level == LevelSystem {
		if len(requested) == 0 {
			return ResourceTypes()
		}
		return slices.Clone(requested)
	}
	if len(requested) == 0 {
		return PatientCompartmentTypes()
	}
	out := make([]string, 0, len(requested))
	for _, t := range requested {
		if InPatientCompartment(t) {
			out = append(out, t)
		}
	}
	return out
}

// Trivial reports whether Apply keeps every record of typ unchanged: a
// system level export with no _typeFilter for typ and no _elements that
// applies to it. The exporter then skips Apply for that type.
func (s *Selection) Trivial(typ string) bool {
	return s.level == LevelSystem && len(s.filters[typ]) == 0 && !s.elements.Applies(typ)
}

// Apply decides one record: resource is a record of type typ as stored
// (compact JSON). keep is false when the record is outside the selected
// patients' compartments or matches none of typ's _typeFilter queries.
// out is the record to write, reduced by _elements when they apply (a new
// slice), or resource itself. err reports a record that is not a JSON
// object.
func (s *Selection) Apply(typ string, resource []byte) (out []byte, keep bool, err error) {
	if i := skipWS(resource, 0); i >= len(resource) || resource[i] != '{' {
		return nil, false, fmt.Errorf("%w: %s record is %s, want a JSON object", ErrNotObject, typ, kind(resource))
	}
	if s.level != LevelSystem && !s.inCompartment(typ, resource) {
		return nil, false, nil
	}
	if fs := s.filters[typ]; len(fs) > 0 && !slices.ContainsFunc(fs, func(f TypeFilter) bool { return f.Match(resource) }) {
		return nil, false, nil
	}
	if !s.elements.Applies(typ) {
		return resource, true, nil
	}
	return s.elements.Apply(make([]byte, 0, len(resource)+len(subsettedTag)+16), typ, resource), true, nil
}

// inCompartment reports whether the resource is in the compartment of a
// selected patient (of any patient when none were selected).
func (s *Selection) inCompartment(typ string, resource []byte) bool {
	found := false
	eachCompartmentPatient(typ, resource, func(id string) bool {
		if s.patients == nil {
			found = true
		} else {
			_, found = s.patients[id]
		}
		return !found
	})
	return found
}
