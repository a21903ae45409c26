// Package synthetic generates deterministic synthetic FHIR R4 patients for
// demos and benchmarks: the same seed gives the same bytes every time, on
// every machine.
//
// A patient is a Patient resource followed by its clinical history: a few
// Encounters, each with vital-sign Observations (LOINC, valueQuantity in
// UCUM units), sometimes a lab panel (Observations plus the DiagnosticReport
// that groups them), Conditions (SNOMED CT), Procedures, MedicationRequests
// (RxNorm) and Immunizations (CVX), and now and then an AllergyIntolerance.
// Resources are compact JSON without meta, about 0.5 to 1.5 KiB each, and
// every reference ("Patient/<id>", "Encounter/<id>", "Observation/<id>")
// points to a resource emitted earlier in the same patient, so any prefix
// of the output is self-contained.
//
// Ids are derived from the seed, the patient number and a per-patient
// counter ("s1-42" is patient 42 of seed 1, "s1-42-obs7" its eighth
// Observation), so a patient can be generated on its own, in any order,
// by [Generator.Patient]. [Stream] and [StreamResources] emit resources one
// at a time in constant memory, which is what a benchmark loading a million
// resources needs.
//
// Randomness comes from a splitmix64 generator owned by this package rather
// than math/rand, whose algorithms may change between Go releases: the
// output is pinned by tests.
package synthetic
