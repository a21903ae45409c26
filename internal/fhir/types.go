package fhir

import "slices"

// resourceTypes lists every resource type of FHIR R4 (4.0.1), sorted, as
// published at hl7.org/fhir/R4/resourcelist.html. The abstract Resource and
// DomainResource are not types a resource can have.
var resourceTypes = []string{
	"Account", "ActivityDefinition", "AdverseEvent", "AllergyIntolerance",
	"Appointment", "AppointmentResponse", "AuditEvent", "Basic", "Binary",
	"BiologicallyDerivedProduct", "BodyStructure", "Bundle",
	"CapabilityStatement", "CarePlan", "CareTeam", "CatalogEntry", "ChargeItem",
	"ChargeItemDefinition", "Claim", "ClaimResponse", "ClinicalImpression",
	"CodeSystem", "Communication", "CommunicationRequest",
	"CompartmentDefinition", "Composition", "ConceptMap", "Condition", "Consent",
	"Contract", "Coverage", "CoverageEligibilityRequest",
	"CoverageEligibilityResponse", "DetectedIssue", "Device", "DeviceDefinition",
	"DeviceMetric", "DeviceRequest", "DeviceUseStatement", "DiagnosticReport",
	"DocumentManifest", "DocumentReference", "EffectEvidenceSynthesis",
	"Encounter", "Endpoint", "EnrollmentRequest", "EnrollmentResponse",
	"EpisodeOfCare", "EventDefinition", "Evidence", "EvidenceVariable",
	"ExampleScenario", "ExplanationOfBenefit", "FamilyMemberHistory", "Flag",
	"Goal", "GraphDefinition", "Group", "GuidanceResponse", "HealthcareService",
	"ImagingStudy", "Immunization", "ImmunizationEvaluation",
	"ImmunizationRecommendation", "ImplementationGuide", "InsurancePlan",
	"Invoice", "Library", "Linkage", "List", "Location", "Measure",
	"MeasureReport", "Media", "Medication", "MedicationAdministration",
	"MedicationDispense", "MedicationKnowledge", "MedicationRequest",
	"MedicationStatement", "MedicinalProduct", "MedicinalProductAuthorization",
	"MedicinalProductContraindication", "MedicinalProductIndication",
	"MedicinalProductIngredient", "MedicinalProductInteraction",
	"MedicinalProductManufactured", "MedicinalProductPackaged",
	"MedicinalProductPharmaceutical", "MedicinalProductUndesirableEffect",
	"MessageDefinition", "MessageHeader", "MolecularSequence", "NamingSystem",
	"NutritionOrder", "Observation", "ObservationDefinition",
	"OperationDefinition", "OperationOutcome", "Organization",
	"OrganizationAffiliation", "Parameters", "Patient", "PaymentNotice",
	"PaymentReconciliation", "Person", "PlanDefinition", "Practitioner",
	"PractitionerRole", "Procedure", "Provenance", "Questionnaire",
	"QuestionnaireResponse", "RelatedPerson", "RequestGroup",
	"ResearchDefinition", "ResearchElementDefinition", "ResearchStudy",
	"ResearchSubject", "RiskAssessment", "RiskEvidenceSynthesis", "Schedule",
	"SearchParameter", "ServiceRequest", "Slot", "Specimen",
	"SpecimenDefinition", "StructureDefinition", "StructureMap", "Subscription",
	"Substance", "SubstanceNucleicAcid", "SubstancePolymer", "SubstanceProtein",
	"SubstanceReferenceInformation", "SubstanceSourceMaterial",
	"SubstanceSpecification", "SupplyDelivery", "SupplyRequest", "Task",
	"TerminologyCapabilities", "TestReport", "TestScript", "ValueSet",
	"VerificationResult", "VisionPrescription",
}

// resourceTypeSet answers IsResourceType without a search.
var resourceTypeSet = func() map[string]struct{} {
	m := make(map[string]struct{}, len(resourceTypes))
	for _, t := range resourceTypes {
		m[t] = struct{}{}
	}
	return m
}()

// IsResourceType reports whether name is a FHIR R4 resource type, spelled
// exactly (type names are case-sensitive: "patient" is not one).
//
// Every resource type is storable and exportable, Bundle, Binary and
// Parameters included: jetexport keeps what it is given and exports what it
// keeps.
func IsResourceType(name string) bool {
	_, ok := resourceTypeSet[name]
	return ok
}

// ResourceTypes returns the FHIR R4 resource types, sorted. The slice is a
// copy the caller may keep and change.
func ResourceTypes() []string { return slices.Clone(resourceTypes) }
