// Package fhirstore keeps clinical records: each tenant's FHIR resources in
// the JetStream KV bucket fhir, one key per record, <tenant>.<Type>.<id>, the
// value the resource as compact JSON (one NDJSON line) with meta.versionId
// and meta.lastUpdated set by the server.
//
// The gateway writes and reads through a [Store]: Put, Create, Get, Delete,
// and ApplyBundle for batch and transaction Bundles, which is how Synthea
// data arrives. Every write expects the revision of the key it read, so two
// writers never lose a version; a transaction is one atomic batch publish
// (ADR-50, client in synadia-io/orbit.go/jetstreamext) and is stored all or
// nothing. The exporter reads records as of a snapshot with a [Scan], and
// one record (the Group of a group-level export) with [GetAsOf].
//
// A record's message carries its version in the [VersionHeader] header; a
// delete is a KV delete marker (header KV-Operation: DEL) that carries the
// version the delete made, so a record created again continues its count.
package fhirstore
