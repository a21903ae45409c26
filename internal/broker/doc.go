// Package broker is jetexport's adapter to NATS JetStream: it connects,
// declares the stream, buckets and object store named in package events, and
// publishes and reads job events. Services above it deal in [events.Event]
// values and never configure a JetStream asset themselves.
package broker
