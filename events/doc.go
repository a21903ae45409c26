// Package events is the vocabulary of jetexport: the export job events that
// make up the log, the subjects and names under which they and the other
// JetStream assets live, the JSON codec for them, and the job read model with
// its pure fold [Apply].
//
// Nothing here does I/O or logs. Services publish [Event] values built with
// [New], consume them with [Decode], and fold them into a [Job] with [Apply].
// The JSON of every event type is a wire contract pinned by golden files in
// testdata/: fields are added, never renamed or removed, and the envelope
// carries the schema [Version].
package events
