// Package fhir is jetexport's knowledge of FHIR R4, as pure functions with
// no I/O: the resource types ([IsResourceType], [ResourceTypes]), ids
// ([ValidID], [NewID]), instants ([ParseInstant]), resources
// ([ParseResource], [Resource.Stamp], [SetMeta]), batch and transaction
// Bundles ([ParseBundle], with urn:uuid: references rewritten to Type/id,
// and [ResponseBundle]) and OperationOutcomes ([OperationOutcome],
// [ErrorOutcome]).
//
// For the Bulk Data $export it knows the R4 Patient compartment
// ([PatientCompartmentTypes], [CompartmentPatients]), evaluates _typeFilter
// queries ([ParseTypeFilter]: token, string, date, reference and uri search
// parameters of the common types) and _elements ([ParseElements]), and
// combines them in a [Selection] that the exporter applies to each record as
// it streams ([Selection.Apply]); the gateway rejects bad requests at
// kick-off with [ValidateTypeFilters] and [ValidateElements]. All of it
// reads the stored JSON in place, without decoding a record.
//
// The gateway uses it to validate what clients send and to answer with an
// OperationOutcome that says what to fix; the clinical store uses it to
// stamp each record with meta.versionId and meta.lastUpdated; the exporter
// uses it to shape records while it streams them.
//
// Resources are handled as JSON bytes, never decoded into maps: what a
// client sends is kept member for member, in its order, and every value this
// package returns for storage is compact JSON without a newline, ready to be
// one NDJSON line. Everything here is safe for concurrent use.
package fhir
