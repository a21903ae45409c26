package fhir

import (
	"errors"
	"fmt"
	"strings"
)

// ErrElements is wrapped by every error of [ParseElements]: an _elements
// value that is not "element" or "Type.element".
var ErrElements = errors.New("invalid _elements")

// SubsettedSystem and SubsettedCode make the meta.tag that marks a resource
// reduced by _elements (v3 ObservationValue SUBSETTED).
const (
	SubsettedSystem = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
	SubsettedCode   = "SUBSETTED"
)

// alwaysKept are the elements _elements never removes: the resource's
// identity and meta, and the modifier elements, whose absence could change
// the meaning of what is left.
var alwaysKept = []string{"resourceType", "id", "meta", "implicitRules", "modifierExtension"}

// mandatoryElements are the top-level elements with min=1 in FHIR R4
// (4.0.1) of the common types: _elements keeps them whether asked or not.
// "name[x]" is a choice element (medicationCodeableConcept or
// medicationReference). Types not listed keep only alwaysKept.
var mandatoryElements = map[string][]string{
	"Account":                     {"status"},
	"AdverseEvent":                {"actuality", "subject"},
	"AllergyIntolerance":          {"patient"},
	"Appointment":                 {"status", "participant"},
	"AppointmentResponse":         {"appointment", "participantStatus"},
	"AuditEvent":                  {"type", "recorded", "agent", "source"},
	"Basic":                       {"code"},
	"BodyStructure":               {"patient"},
	"CarePlan":                    {"status", "intent", "subject"},
	"ChargeItem":                  {"status", "code", "subject"},
	"Claim":                       {"status", "type", "use", "patient", "created", "provider", "priority", "insurance"},
	"ClaimResponse":               {"status", "type", "use", "patient", "created", "insurer", "outcome"},
	"ClinicalImpression":          {"status", "subject"},
	"Communication":               {"status"},
	"CommunicationRequest":        {"status"},
	"Composition":                 {"status", "type", "date", "author", "title"},
	"Condition":                   {"subject"},
	"Consent":                     {"status", "scope", "category"},
	"Coverage":                    {"status", "beneficiary", "payor"},
	"CoverageEligibilityRequest":  {"status", "purpose", "patient", "created", "insurer"},
	"CoverageEligibilityResponse": {"status", "purpose", "patient", "created", "request", "outcome", "insurer"},
	"DetectedIssue":               {"status"},
	"DeviceRequest":               {"intent", "code[x]", "subject"},
	"DeviceUseStatement":          {"status", "subject", "device"},
	"DiagnosticReport":            {"status", "code"},
	"DocumentManifest":            {"status", "content"},
	"DocumentReference":           {"status", "content"},
	"Encounter":                   {"status", "class"},
	"Endpoint":                    {"status", "connectionType", "payloadType", "address"},
	"EpisodeOfCare":               {"status", "patient"},
	"ExplanationOfBenefit":        {"status", "type", "use", "patient", "created", "insurer", "provider", "outcome", "insurance"},
	"FamilyMemberHistory":         {"status", "patient", "relationship"},
	"Flag":                        {"status", "code", "subject"},
	"Goal":                        {"lifecycleStatus", "description", "subject"},
	"Group":                       {"type", "actual"},
	"ImagingStudy":                {"status", "subject"},
	"Immunization":                {"status", "vaccineCode", "patient", "occurrence[x]"},
	"ImmunizationEvaluation":      {"status", "patient", "targetDisease", "immunizationEvent", "doseStatus"},
	"ImmunizationRecommendation":  {"patient", "date", "recommendation"},
	"Invoice":                     {"status"},
	"List":                        {"status", "mode"},
	"MeasureReport":               {"status", "type", "measure", "period"},
	"Media":                       {"status", "content"},
	"MedicationAdministration":    {"status", "medication[x]", "subject", "effective[x]"},
	"MedicationDispense":          {"status", "medication[x]"},
	"MedicationRequest":           {"status", "intent", "medication[x]", "subject"},
	"MedicationStatement":         {"status", "medication[x]", "subject"},
	"MolecularSequence":           {"coordinateSystem"},
	"NutritionOrder":              {"status", "intent", "patient", "dateTime"},
	"Observation":                 {"status", "code"},
	"Procedure":                   {"status", "subject"},
	"Provenance":                  {"target", "recorded", "agent"},
	"QuestionnaireResponse":       {"status"},
	"RelatedPerson":               {"patient"},
	"RequestGroup":                {"status", "intent"},
	"ResearchSubject":             {"status", "study", "individual"},
	"RiskAssessment":              {"status", "subject"},
	"Schedule":                    {"actor"},
	"ServiceRequest":              {"status", "intent", "subject"},
	"Substance":                   {"code"},
	"SupplyRequest":               {"item[x]", "quantity"},
	"Task":                        {"status", "intent"},
	"VisionPrescription":          {"status", "created", "patient", "dateWritten", "prescriber", "lensSpecification"},
}

// MandatoryElements returns the elements _elements always keeps for typ:
// resourceType, id, meta, implicitRules, modifierExtension and the type's
// mandatory (min=1) elements ("medication[x]" for a choice element).
func MandatoryElements(typ string) []string {
	return append(append([]string(nil), alwaysKept...), mandatoryElements[typ]...)
}

// Elements is a parsed _elements: the top-level elements to keep, for
// every type or for one. The zero Elements keeps everything. An Elements
// is immutable and safe for concurrent use.
type Elements struct {
	all    map[string]bool            // "element" values: for every type
	byType map[string]map[string]bool // "Type.element" values
}

// ParseElements parses _elements values, each one element or a comma list,
// of the forms "element" (for every type) and "Type.element" (for that
// type); only top-level elements may be named, and a choice element is
// named without its type, "value" or "value[x]". Errors wrap [ErrElements].
func ParseElements(values []string) (Elements, error) {
	var e Elements
	var errs []error
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			if err := e.add(item); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return Elements{}, errors.Join(errs...)
	}
	return e, nil
}

// add adds one item.
func (e *Elements) add(item string) error {
	typ, name, dotted := strings.Cut(item, ".")
	if !dotted {
		typ, name = "", item
		if IsResourceType(item) {
			return fmt.Errorf("%w %s: a resource type alone; name an element, such as %s.id", ErrElements, quoteShort(item), item)
		}
	}
	switch {
	case dotted && !IsResourceType(typ):
		return fmt.Errorf("%w %s: %s is not a FHIR R4 resource type; use Type.element (such as Patient.name) or element", ErrElements, quoteShort(item), quoteShort(typ))
	case strings.Contains(name, "."):
		return fmt.Errorf("%w %s: only top-level elements can be named, such as %s", ErrElements, quoteShort(item), quoteShort(strings.SplitN(item, ".", 3)[0]+"."+strings.SplitN(name, ".", 2)[0]))
	}
	name = strings.TrimSuffix(name, "[x]")
	if !validElementName(name) || name[0] < 'a' || name[0] > 'z' {
		return fmt.Errorf("%w %s: %s is not an element name (letters and digits, starting lower-case, such as status)", ErrElements, quoteShort(item), quoteShort(name))
	}
	if typ == "" {
		if e.all == nil {
			e.all = map[string]bool{}
		}
		e.all[name] = true
		return nil
	}
	if e.byType == nil {
		e.byType = map[string]map[string]bool{}
	}
	if e.byType[typ] == nil {
		e.byType[typ] = map[string]bool{}
	}
	e.byType[typ][name] = true
	return nil
}

// ValidateElements checks raw _elements values as [NewSelection] will read
// them, for the gateway to reject a bad request at kick-off.
func ValidateElements(values []string) error {
	_, err := ParseElements(values)
	return err
}

// Empty reports whether e keeps everything of every type.
func (e Elements) Empty() bool { return len(e.all) == 0 && len(e.byType) == 0 }

// Applies reports whether e reduces resources of type typ: some element
// was named for every type or for typ. A type no value names is exported
// whole ("Patient.name" alone does not strip Observations).
func (e Elements) Applies(typ string) bool { return len(e.all) > 0 || len(e.byType[typ]) > 0 }

// keeps reports whether the top-level member key (its text) of a resource
// of type typ stays.
func (e Elements) keeps(typ string, key []byte) bool {
	k := string(key) // no allocation: only map lookups and comparisons
	if len(k) > 1 && k[0] == '_' {
		k = k[1:] // a primitive's id and extensions go with it
	}
	if e.all[k] || e.byType[typ][k] {
		return true
	}
	for _, m := range alwaysKept {
		if k == m {
			return true
		}
	}
	for _, m := range mandatoryElements[typ] {
		if k == m {
			return true
		}
		if base, ok := strings.CutSuffix(m, "[x]"); ok && isChoiceKey(key, base) {
			return true
		}
	}
	// A choice element named without its type: "value" keeps valueQuantity.
	for i := 1; i < len(k); i++ {
		if k[i] >= 'A' && k[i] <= 'Z' {
			return isChoiceType(k[i:]) && (e.all[k[:i]] || e.byType[typ][k[:i]])
		}
	}
	return false
}

// choiceTypes are the data types a choice element can have in R4.
var choiceTypes = map[string]bool{
	"Base64Binary": true, "Boolean": true, "Canonical": true, "Code": true, "Date": true, "DateTime": true,
	"Decimal": true, "Id": true, "Instant": true, "Integer": true, "Markdown": true, "Oid": true,
	"PositiveInt": true, "String": true, "Time": true, "UnsignedInt": true, "Uri": true, "Url": true,
	"Uuid": true, "Address": true, "Age": true, "Annotation": true, "Attachment": true,
	"CodeableConcept": true, "Coding": true, "ContactPoint": true, "Count": true, "Distance": true,
	"Duration": true, "HumanName": true, "Identifier": true, "Money": true, "Period": true,
	"Quantity": true, "Range": true, "Ratio": true, "Reference": true, "SampledData": true,
	"Signature": true, "Timing": true, "ContactDetail": true, "Contributor": true,
	"DataRequirement": true, "Expression": true, "ParameterDefinition": true,
	"RelatedArtifact": true, "TriggerDefinition": true, "UsageContext": true, "Dosage": true, "Meta": true,
}

// isChoiceType reports whether s names a data type.
func isChoiceType(s string) bool { return choiceTypes[s] }

// Apply appends to dst the resource (of type typ, compact JSON) reduced to
// the elements e keeps, with meta.tag SUBSETTED added (once), as compact
// JSON on one line. Call it only when e.Applies(typ).
func (e Elements) Apply(dst []byte, typ string, resource []byte) []byte {
	dst = append(dst, '{')
	n := 0
	put := func(key, val []byte) {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, key...)
		dst = append(dst, ':')
		dst = append(dst, val...)
	}
	// Stored records carry meta; one that lacks it gets it at the end
	// rather than after id, which would take a second pass to find out.
	hasMeta := false
	eachMember(resource, func(k, v []byte) bool {
		name := keyText(k)
		switch {
		case string(name) == "meta":
			hasMeta = true
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = append(dst, k...)
			dst = append(dst, ':')
			dst = appendSubsetted(dst, v)
		case e.keeps(typ, name):
			put(k, v)
		}
		return true
	})
	if !hasMeta {
		put(keyMeta, appendSubsetted(nil, nil))
	}
	return append(dst, '}')
}

// subsettedTag is the Coding that marks a subsetted resource.
const subsettedTag = `{"system":"` + SubsettedSystem + `","code":"` + SubsettedCode + `"}`

// appendSubsetted appends the meta object old (nil for none) with the
// SUBSETTED tag added to meta.tag unless it is there.
func appendSubsetted(dst, old []byte) []byte {
	dst = append(dst, '{')
	n := 0
	tagged := false
	eachMember(old, func(k, v []byte) bool {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, k...)
		dst = append(dst, ':')
		if !keyIs(k, "tag") || len(v) == 0 || v[0] != '[' {
			dst = append(dst, v...)
			return true
		}
		tagged = true
		dst = append(dst, '[')
		m, seen := 0, false
		eachElement(v, func(t []byte) bool {
			if m > 0 {
				dst = append(dst, ',')
			}
			m++
			dst = append(dst, t...)
			seen = seen || (memberString(t, "system") == SubsettedSystem && memberString(t, "code") == SubsettedCode)
			return true
		})
		if !seen {
			if m > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, subsettedTag...)
		}
		dst = append(dst, ']')
		return true
	})
	if !tagged {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `"tag":[`+subsettedTag+`]`...)
	}
	return append(dst, '}')
}
