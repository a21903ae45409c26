// Package exporter runs export jobs. Replicas share one durable JetStream
// consumer of ExportRequested events and take one job at a time each; a
// worker reads the job's own events from the log to learn what an earlier
// attempt already stored, scans each resource type of the tenant as of the
// job's snapshot, streams NDJSON parts into the object store, and records
// every stored part (ChunkWritten) before it moves on, so a crashed worker's
// job is resumed after its last recorded part by whichever worker gets it
// next, with nothing written twice.
package exporter
