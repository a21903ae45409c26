// Package notifier delivers jetexport's webhooks: when a job completes,
// fails, is cancelled or expires, every subscription of the tenant to that
// event, and the one-off webhookUrl the export named, gets a signed HTTP POST
// until it answers 2xx or the retry limit passes.
//
// It works in two steps, both durable JetStream consumers shared by every
// notifier replica:
//
//  1. Fan-out: the consumer "notifier" on the terminal job events of stream
//     BULK turns each event into one delivery task per destination, stored
//     in the work-queue stream DELIVERIES with a de-duplication id, then
//     acknowledges the event.
//  2. Delivery: workers on the consumer "notifier-deliveries" take one task
//     at a time, make the attempt, record its outcome as a WebhookAttempted
//     event on the job's subject (the projector folds it into the job
//     document), and, when it failed, store the task of the next attempt
//     with its not-before time before acknowledging this one. A task that
//     arrives early is handed back with NakWithDelay until it is due.
//
// Retries therefore live in JetStream, not in memory: a notifier stopped
// between attempts loses nothing, and any replica makes the next attempt.
// Each attempt carries its number in the task, so the webhook-id (the
// delivery id) and the attempt count stay exact across restarts, and a
// task handed back because its endpoint is busy does not count as an
// attempt. Deliveries run concurrently, at most Config.MaxConcurrent in all
// and Config.MaxPerEndpoint to one endpoint: one slow receiver does not
// hold up the others.
package notifier
