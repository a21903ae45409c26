package exporter

import (
	"errors"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// describe turns the error that ended a job into the code and message the
// job shows: what happened, in words a user can act on, with the cause.
func describe(err error) (code, message string) {
	var perm *permanentError
	if errors.As(err, &perm) {
		return perm.code, err.Error()
	}
	// 10077: the stream store failed (maximum bytes exceeded, disk full).
	var apiErr *jetstream.APIError
	full := errors.As(err, &apiErr) && (apiErr.ErrorCode == 10077 ||
		strings.Contains(apiErr.Description, "maximum bytes exceeded") ||
		strings.Contains(apiErr.Description, "insufficient resources"))
	switch {
	case errors.Is(err, errStuck):
		return "stuck", "the export stopped making progress and was given up after its last attempt (" + err.Error() + "); try again, and tell the operators if it recurs"
	case full:
		return "storage_full", "the export could not be stored because the export storage is full; " +
			"try again later (operators: raise the exports object store's limits or shorten --retention) (" + err.Error() + ")"
	case errors.Is(err, jetstream.ErrNoHeartbeat), errors.Is(err, jetstream.ErrConsumerNotFound):
		return "source_unavailable", "the clinical records could not be read to the end; try again (" + err.Error() + ")"
	}
	return "export_failed", err.Error()
}
