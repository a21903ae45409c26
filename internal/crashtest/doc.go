// Package crashtest proves jetexport's promises about exports with real
// processes: it builds the jetexport binary once per test run, starts a NATS
// process, a gateway and exporters as separate processes, SIGKILLs them at
// chosen points (the exporter's JETEXPORT_TEST_PAUSE_AT hook tells the test
// where a process stands), and checks the downloaded output line by line
// against the records stored.
//
// What the tests hold the system to (issue 5): an export killed at any point
// is finished by another exporter, resuming after the last recorded part,
// with every record exactly once and no orphan object; a cancel stops the
// work within 2 seconds and removes the files; files expire after the
// retention; an export is a snapshot as of its transactionTime under
// concurrent writes; a task that stops making progress is retried or fails
// with a reason; the job projection survives a killed projector and a
// deleted bucket; and a 3-node cluster loses nothing when one node dies.
//
// TestMain builds cmd/jetexport and natsnode (one embedded NATS server per
// process, for the cluster tests) once per run, without -race; set
// JETEXPORT_CRASHTEST_BIN to a prebuilt jetexport to test that instead.
// The package has no API: everything is in its tests.
package crashtest
