package fhir

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// patientCompartmentTable is the FHIR R4 (4.0.1) CompartmentDefinition
// "patient" (hl7.org/fhir/R4/compartmentdefinition-patient.html): every
// resource type it lists with search parameters, each parameter with the
// paths its R4 SearchParameter expression reads (search-parameters.json).
// Paths ending in "@Patient" are the expressions ending in
// ".where(resolve() is Patient)". Types the definition lists without a
// parameter (Device, Medication, Organization, Practitioner and the other
// definitional types) are never in a patient's compartment: note that R4
// leaves Device out although Device.patient exists.
var patientCompartmentTable = []struct {
	typ    string
	params [][2]string // parameter name, paths separated by " | "
}{
	{"Account", [][2]string{{"subject", "subject"}}},
	{"AdverseEvent", [][2]string{{"subject", "subject"}}},
	{"AllergyIntolerance", [][2]string{{"patient", "patient"}, {"recorder", "recorder"}, {"asserter", "asserter"}}},
	{"Appointment", [][2]string{{"actor", "participant.actor"}}},
	{"AppointmentResponse", [][2]string{{"actor", "actor"}}},
	{"AuditEvent", [][2]string{{"patient", "agent.who@Patient | entity.what@Patient"}}},
	{"Basic", [][2]string{{"patient", "subject@Patient"}, {"author", "author"}}},
	{"BodyStructure", [][2]string{{"patient", "patient"}}},
	{"CarePlan", [][2]string{{"patient", "subject@Patient"}, {"performer", "activity.detail.performer"}}},
	{"CareTeam", [][2]string{{"patient", "subject@Patient"}, {"participant", "participant.member"}}},
	{"ChargeItem", [][2]string{{"subject", "subject"}}},
	{"Claim", [][2]string{{"patient", "patient"}, {"payee", "payee.party"}}},
	{"ClaimResponse", [][2]string{{"patient", "patient"}}},
	{"ClinicalImpression", [][2]string{{"subject", "subject"}}},
	{"Communication", [][2]string{{"subject", "subject"}, {"sender", "sender"}, {"recipient", "recipient"}}},
	{"CommunicationRequest", [][2]string{{"subject", "subject"}, {"sender", "sender"}, {"recipient", "recipient"}, {"requester", "requester"}}},
	{"Composition", [][2]string{{"subject", "subject"}, {"author", "author"}, {"attester", "attester.party"}}},
	{"Condition", [][2]string{{"patient", "subject@Patient"}, {"asserter", "asserter"}}},
	{"Consent", [][2]string{{"patient", "patient"}}},
	{"Coverage", [][2]string{{"policy-holder", "policyHolder"}, {"subscriber", "subscriber"}, {"beneficiary", "beneficiary"}, {"payor", "payor"}}},
	{"CoverageEligibilityRequest", [][2]string{{"patient", "patient"}}},
	{"CoverageEligibilityResponse", [][2]string{{"patient", "patient"}}},
	{"DetectedIssue", [][2]string{{"patient", "patient"}}},
	{"DeviceRequest", [][2]string{{"subject", "subject"}, {"performer", "performer"}}},
	{"DeviceUseStatement", [][2]string{{"subject", "subject"}}},
	{"DiagnosticReport", [][2]string{{"subject", "subject"}}},
	{"DocumentManifest", [][2]string{{"subject", "subject"}, {"author", "author"}, {"recipient", "recipient"}}},
	{"DocumentReference", [][2]string{{"subject", "subject"}, {"author", "author"}}},
	{"Encounter", [][2]string{{"patient", "subject@Patient"}}},
	{"EnrollmentRequest", [][2]string{{"subject", "candidate"}}},
	{"EpisodeOfCare", [][2]string{{"patient", "patient"}}},
	{"ExplanationOfBenefit", [][2]string{{"patient", "patient"}, {"payee", "payee.party"}}},
	{"FamilyMemberHistory", [][2]string{{"patient", "patient"}}},
	{"Flag", [][2]string{{"patient", "subject@Patient"}}},
	{"Goal", [][2]string{{"patient", "subject@Patient"}}},
	{"Group", [][2]string{{"member", "member.entity"}}},
	{"ImagingStudy", [][2]string{{"patient", "subject@Patient"}}},
	{"Immunization", [][2]string{{"patient", "patient"}}},
	{"ImmunizationEvaluation", [][2]string{{"patient", "patient"}}},
	{"ImmunizationRecommendation", [][2]string{{"patient", "patient"}}},
	{"Invoice", [][2]string{{"subject", "subject"}, {"patient", "subject@Patient"}, {"recipient", "recipient"}}},
	{"List", [][2]string{{"subject", "subject"}, {"source", "source"}}},
	{"MeasureReport", [][2]string{{"patient", "subject@Patient"}}},
	{"Media", [][2]string{{"subject", "subject"}}},
	{"MedicationAdministration", [][2]string{{"patient", "subject@Patient"}, {"performer", "performer.actor"}, {"subject", "subject"}}},
	{"MedicationDispense", [][2]string{{"subject", "subject"}, {"patient", "subject@Patient"}, {"receiver", "receiver"}}},
	{"MedicationRequest", [][2]string{{"subject", "subject"}}},
	{"MedicationStatement", [][2]string{{"subject", "subject"}}},
	{"MolecularSequence", [][2]string{{"patient", "patient"}}},
	{"NutritionOrder", [][2]string{{"patient", "patient"}}},
	{"Observation", [][2]string{{"subject", "subject"}, {"performer", "performer"}}},
	{"Patient", [][2]string{{"link", "link.other"}}},
	{"Person", [][2]string{{"patient", "link.target@Patient"}}},
	{"Procedure", [][2]string{{"patient", "subject@Patient"}, {"performer", "performer.actor"}}},
	{"Provenance", [][2]string{{"patient", "target@Patient"}}},
	{"QuestionnaireResponse", [][2]string{{"subject", "subject"}, {"author", "author"}}},
	{"RelatedPerson", [][2]string{{"patient", "patient"}}},
	{"RequestGroup", [][2]string{{"subject", "subject"}, {"participant", "action.participant"}}},
	{"ResearchSubject", [][2]string{{"individual", "individual"}}},
	{"RiskAssessment", [][2]string{{"subject", "subject"}}},
	{"Schedule", [][2]string{{"actor", "actor"}}},
	{"ServiceRequest", [][2]string{{"subject", "subject"}, {"performer", "performer"}}},
	{"Specimen", [][2]string{{"subject", "subject"}}},
	{"SupplyDelivery", [][2]string{{"patient", "patient"}}},
	{"SupplyRequest", [][2]string{{"subject", "deliverTo"}}},
	{"VisionPrescription", [][2]string{{"patient", "patient"}}},
}

// CompartmentParam is one search parameter that puts resources of a type in
// a patient's compartment, and the JSON paths it reads.
type CompartmentParam struct {
	Name  string   // the search parameter, e.g. "subject"
	Paths []string // e.g. "subject", "performer.actor", "subject@Patient"
}

// compartment is the parsed table: type -> the paths of all its
// parameters, in table order.
var compartment = func() map[string][]path {
	m := make(map[string][]path, len(patientCompartmentTable))
	for _, row := range patientCompartmentTable {
		for _, p := range row.params {
			m[row.typ] = append(m[row.typ], mustPaths(p[1])...)
		}
	}
	return m
}()

// PatientCompartmentTypes returns the resource types of the FHIR R4 Patient
// compartment, sorted: the types a Patient- or Group-level export may
// contain. The slice is the caller's.
func PatientCompartmentTypes() []string {
	out := make([]string, 0, len(compartment))
	for t := range compartment {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// InPatientCompartment reports whether resources of type typ can be in a
// patient's compartment.
func InPatientCompartment(typ string) bool {
	_, ok := compartment[typ]
	return ok
}

// PatientCompartmentParams returns the search parameters that link a type
// to a patient, with their paths, or nil for a type outside the compartment.
func PatientCompartmentParams(typ string) []CompartmentParam {
	for _, row := range patientCompartmentTable {
		if row.typ != typ {
			continue
		}
		out := make([]CompartmentParam, len(row.params))
		for i, p := range row.params {
			out[i] = CompartmentParam{Name: p[0], Paths: strings.Split(p[1], " | ")}
		}
		return out
	}
	return nil
}

// CompartmentPatients returns the ids of the patients whose compartment the
// resource (of type typ) is in, each once, in document order: the targets of
// its compartment parameters that are Patient references ("Patient/<id>",
// with or without "/_history/<v>", or an absolute URL ending in
// "Patient/<id>"). A Patient is in its own compartment and in those of the
// patients its link.other names. For a Group, member.entity "urn:uuid:<id>"
// counts as Patient <id> too, as [GroupMembers] reads it. A type outside the
// compartment gives none. The error wraps [ErrNotJSON] or [ErrNotObject].
func CompartmentPatients(typ string, resource []byte) ([]string, error) {
	if !json.Valid(resource) {
		return nil, fmt.Errorf("%w: the resource is not valid JSON", ErrNotJSON)
	}
	if i := skipWS(resource, 0); i >= len(resource) || resource[i] != '{' {
		return nil, fmt.Errorf("%w: got %s; a FHIR resource is a JSON object", ErrNotObject, kind(resource))
	}
	var out []string
	eachCompartmentPatient(typ, resource, func(id string) bool {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
		return true
	})
	return out, nil
}

// eachCompartmentPatient calls fn with the id of every patient whose
// compartment the resource is in (an id may come more than once), until fn
// returns false; it reports whether fn never asked to stop.
func eachCompartmentPatient(typ string, resource []byte, fn func(id string) bool) bool {
	paths, ok := compartment[typ]
	if !ok {
		return true
	}
	if typ == "Patient" {
		if id := memberString(resource, "id"); id != "" && !fn(id) {
			return false
		}
	}
	group := typ == "Group"
	for _, p := range paths {
		cont := p.each(resource, func(v []byte) bool {
			ref := referenceOf(v)
			rt, id := SplitReference(ref)
			if rt == "Patient" || (group && rt == "" && id != "" && strings.HasPrefix(ref, "urn:uuid:")) {
				return fn(id)
			}
			return true
		})
		if !cont {
			return false
		}
	}
	return true
}
