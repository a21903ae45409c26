package fhirstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/fhir"
	"github.com/jetexport/jetexport/internal/natstest"
)

const tenant = events.Tenant("acme_test")

// clock is a settable time source for the stamped lastUpdated.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// newStore returns a Store on a fresh embedded server, and its assets.
func newStore(tb testing.TB) (*Store, *broker.Assets, *clock) {
	tb.Helper()
	a := natstest.Assets(tb, broker.Config{})
	c := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	return New(a.FHIR, a.JS, c.now), a, c
}

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// countKeys counts the live records of tenant t.
func countKeys(tb testing.TB, s *Store, t events.Tenant) int {
	tb.Helper()
	l, err := s.kv.ListKeysFiltered(testContext(tb), string(t)+".>")
	if err != nil {
		tb.Fatalf("list keys: %v", err)
	}
	defer l.Stop()
	n := 0
	for range l.Keys() {
		n++
	}
	return n
}

func TestCRUD(t *testing.T) {
	s, _, clk := newStore(t)
	ctx := testContext(t)
	t1 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

	res, err := s.Put(ctx, tenant, "Patient", "p1", []byte(`{"resourceType":"Patient","id":"p1","active":true}`))
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	want := `{"resourceType":"Patient","id":"p1","meta":{"versionId":"1","lastUpdated":"2025-03-01T12:00:00.000Z"},"active":true}`
	if diff := cmp.Diff(Result{Body: []byte(want), Type: "Patient", ID: "p1", VersionID: "1", LastUpdated: t1, Created: true}, res); diff != "" {
		t.Fatalf("Put (-want +got):\n%s", diff)
	}
	got, err := s.Get(ctx, tenant, "Patient", "p1")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(Result{Body: []byte(want), Type: "Patient", ID: "p1", VersionID: "1", LastUpdated: t1}, got); diff != "" {
		t.Fatalf("Get (-want +got):\n%s", diff)
	}

	// An update without an id in the body takes the URL's, and bumps the version.
	t2 := t1.Add(time.Minute + 1500*time.Microsecond)
	clk.set(t2)
	res, err = s.Put(ctx, tenant, "Patient", "p1", []byte(`{"resourceType":"Patient","active":false}`))
	if err != nil {
		t.Fatalf("Put again: %v", err)
	}
	if res.VersionID != "2" || res.Created || !res.LastUpdated.Equal(t2.Truncate(time.Millisecond)) {
		t.Errorf("update: version %s created %v at %s", res.VersionID, res.Created, res.LastUpdated)
	}
	got, _ = s.Get(ctx, tenant, "Patient", "p1")
	if want := `{"resourceType":"Patient","id":"p1","meta":{"versionId":"2","lastUpdated":"2025-03-01T12:01:00.001Z"},"active":false}`; string(got.Body) != want {
		t.Errorf("after update Get = %s, want %s", got.Body, want)
	}

	// Create ignores the body's id and mints one.
	created, err := s.Create(ctx, tenant, "Observation", []byte(`{"resourceType":"Observation","id":"mine","status":"final"}`))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if created.ID == "mine" || !fhir.ValidID(created.ID) || created.VersionID != "1" || !created.Created {
		t.Errorf("Create: %+v", created)
	}
	if got, err := s.Get(ctx, tenant, "Observation", created.ID); err != nil || !strings.Contains(string(got.Body), `"id":"`+created.ID+`"`) {
		t.Errorf("Get created: %s, %v", got.Body, err)
	}

	// Delete, then Get says deleted; deleting again or deleting nothing is fine.
	if err := s.Delete(ctx, tenant, "Patient", "p1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, tenant, "Patient", "p1"); !errors.Is(err, ErrDeleted) {
		t.Errorf("Get after delete: %v, want ErrDeleted", err)
	}
	for _, id := range []string{"p1", "never"} {
		if err := s.Delete(ctx, tenant, "Patient", id); err != nil {
			t.Errorf("Delete %s: %v", id, err)
		}
	}
	if _, err := s.Get(ctx, tenant, "Patient", "never"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get missing: %v, want ErrNotFound", err)
	}

	// Created again after a delete: a new record, the version count goes on
	// (1, 2, the delete made 3).
	res, err = s.Put(ctx, tenant, "Patient", "p1", []byte(`{"resourceType":"Patient"}`))
	if err != nil || res.VersionID != "4" || !res.Created {
		t.Errorf("Put after delete: version %s created %v, %v", res.VersionID, res.Created, err)
	}

	// Tenants do not see each other's records.
	if _, err := s.Get(ctx, events.TenantOf("acme", events.ModeLive), "Patient", "p1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get from the live tenant: %v, want ErrNotFound", err)
	}
}

func TestWriteErrors(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testContext(t)
	tests := []struct {
		name    string
		typ, id string
		body    string
		want    error
		hint    string
	}{
		{"unknown URL type", "Foo", "1", `{"resourceType":"Foo"}`, fhir.ErrUnknownType, `"Foo"`},
		{"lower-case URL type", "patient", "1", `{"resourceType":"Patient"}`, fhir.ErrUnknownType, `"patient"`},
		{"bad id", "Patient", "a b", `{"resourceType":"Patient"}`, fhir.ErrBadID, `"a b"`},
		{"id with two dots", "Patient", "a..b", `{"resourceType":"Patient"}`, fhir.ErrBadID, `".."`},
		{"id ending with a dot", "Patient", "a.", `{"resourceType":"Patient"}`, fhir.ErrBadID, `'.'`},
		{"type mismatch", "Patient", "1", `{"resourceType":"Observation"}`, fhir.ErrMismatch, `"Observation"`},
		{"id mismatch", "Patient", "1", `{"resourceType":"Patient","id":"2"}`, fhir.ErrMismatch, `"2"`},
		{"not JSON", "Patient", "1", `{"resourceType":"Patient"`, fhir.ErrNotJSON, "at byte"},
		{"empty body", "Patient", "1", ``, fhir.ErrNotJSON, "empty"},
		{"array", "Patient", "1", `[{"resourceType":"Patient"}]`, fhir.ErrNotObject, "array"},
		{"no resourceType", "Patient", "1", `{"id":"1"}`, fhir.ErrMissingType, "resourceType"},
		{"unknown body type", "Patient", "1", `{"resourceType":"Foo"}`, fhir.ErrUnknownType, `"Foo"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Put(ctx, tenant, tt.typ, tt.id, []byte(tt.body))
			if !errors.Is(err, ErrInvalid) || !errors.Is(err, tt.want) {
				t.Fatalf("Put error = %v, want ErrInvalid and %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.hint) {
				t.Errorf("error %q does not say %q", err, tt.hint)
			}
			if IssueCode(err) == fhir.IssueException {
				t.Errorf("IssueCode(%v) = exception", err)
			}
		})
	}
	if n := countKeys(t, s, tenant); n != 0 {
		t.Errorf("%d records written by failed puts", n)
	}
	if _, err := s.Create(ctx, tenant, "Patient", []byte(`{"resourceType":"Group"}`)); !errors.Is(err, fhir.ErrMismatch) {
		t.Errorf("Create with another type: %v", err)
	}
	if _, err := s.Get(ctx, tenant, "Nope", "1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Get of an unknown type: %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	s, a, _ := newStore(t)
	ctx := testContext(t)
	limit := int(a.JS.Conn().MaxPayload())
	big := `{"resourceType":"Binary","data":"` + strings.Repeat("A", limit) + `"}`
	_, err := s.Put(ctx, tenant, "Binary", "b1", []byte(big))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Put of %d bytes: %v, want ErrTooLarge", len(big), err)
	}
	for _, want := range []string{strconv.Itoa(limit - headerRoom), "max_payload", "Binary/b1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if IssueCode(err) != fhir.IssueTooLong {
		t.Errorf("IssueCode = %s", IssueCode(err))
	}
	if _, err := s.Create(ctx, tenant, "Binary", []byte(big)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Create: %v, want ErrTooLarge", err)
	}
	// Just under the limit is stored.
	fits := `{"resourceType":"Binary","data":"` + strings.Repeat("A", limit-headerRoom-200) + `"}`
	if _, err := s.Put(ctx, tenant, "Binary", "b2", []byte(fits)); err != nil {
		t.Errorf("Put of %d bytes: %v", len(fits), err)
	}
}

func TestConcurrentPutKeepsEveryVersion(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testContext(t)
	const writers, each = 6, 15
	var (
		mu       sync.Mutex
		versions = map[string]int{}
		wg       sync.WaitGroup
		errs     = make(chan error, writers)
	)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				body := fmt.Sprintf(`{"resourceType":"Patient","id":"shared","name":[{"text":"writer %d put %d"}]}`, w, i)
				res, err := s.Put(ctx, tenant, "Patient", "shared", []byte(body))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				versions[res.VersionID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Put: %v", err)
	}
	for v := 1; v <= writers*each; v++ {
		if n := versions[strconv.Itoa(v)]; n != 1 {
			t.Errorf("version %d was returned %d times", v, n)
		}
	}
	got, err := s.Get(ctx, tenant, "Patient", "shared")
	if err != nil || got.VersionID != strconv.Itoa(writers*each) {
		t.Errorf("final version %s, want %d (%v)", got.VersionID, writers*each, err)
	}
}
