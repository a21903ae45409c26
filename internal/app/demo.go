package app

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/apikeys"
	"github.com/jetexport/jetexport/internal/fhirstore"
	"github.com/jetexport/jetexport/internal/synthetic"
)

// DemoCustomer is the customer --demo loads patients for.
const DemoCustomer = "demo"

// demoPatients is how many synthetic patients --demo loads.
const demoPatients = 10

// demo loads a few synthetic patients into the demo tenant (test mode),
// makes an API key for it and prints a ready-to-paste request.
func (s *System) demo(ctx context.Context, out io.Writer) error {
	t := events.TenantOf(DemoCustomer, events.ModeTest)
	store := fhirstore.New(s.Assets.FHIR, s.Assets.JS, time.Now)
	n := 0
	err := synthetic.Stream(1, demoPatients, func(r synthetic.Resource) error {
		n++
		_, err := store.Put(ctx, t, r.Type, r.ID, r.JSON)
		return err
	})
	if err != nil {
		return fmt.Errorf("load demo patients: %w", err)
	}
	key, _, err := apikeys.New(s.Assets.APIKeys, time.Now).Create(ctx, DemoCustomer, events.ModeTest, "demo")
	if err != nil {
		return err
	}
	s.DemoKey = key
	fmt.Fprintf(out, `
jetexport is running at %[1]s (NATS at %[2]s).
Demo: %[3]d resources of %[4]d synthetic patients loaded into tenant %[5]q (test mode).
API key (shown once): %[6]s

Start an export:
  curl -s -X POST %[1]s/v1/bulk/export \
    -H "x-api-key: %[6]s" -H "Content-Type: application/json" \
    -d '{"resourceTypes": ["Patient","Encounter","Observation"], "since": "2025-01-01T00:00:00Z"}'
Then poll it (use the jobId it returned):
  curl -s %[1]s/v1/bulk/jobs/JOB_ID -H "x-api-key: %[6]s"

`, s.HTTPURL, s.NATSURL, n, demoPatients, DemoCustomer, key)
	return nil
}
