// Package fhir is jetexport's knowledge of FHIR R4, as pure functions with
// no I/O: the resource types ([IsResourceType], [ResourceTypes]), ids
// ([ValidID], [NewID]), instants ([ParseInstant]), resources
// ([ParseResource], [Resource.Stamp], [SetMeta]), batch and transaction
// Bundles ([ParseBundle], with urn:uuid: references rewritten to Type/id,
// and [ResponseBundle]) and OperationOutcomes ([OperationOutcome],
// [ErrorOutcome]).
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
