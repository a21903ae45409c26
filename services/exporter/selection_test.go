package exporter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/fhir"
	"github.com/jetexport/jetexport/internal/fhirstore"
	"github.com/jetexport/jetexport/internal/natstest"
	"github.com/jetexport/jetexport/services/exporter"
)

// loadTestdata stores the three testdata Synthea patients and returns the
// patient ids.
func loadTestdata(tb testing.TB, a *broker.Assets) (*fhirstore.Store, []string) {
	tb.Helper()
	store := fhirstore.New(a.FHIR, a.JS, time.Now)
	files, _ := filepath.Glob("../../testdata/synthea/*.json")
	var patients []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := store.ApplyBundle(context.Background(), tenant, b); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		var bundle struct {
			Entry []struct {
				Resource struct{ ResourceType, ID string }
			}
		}
		_ = json.Unmarshal(b, &bundle)
		for _, e := range bundle.Entry {
			if e.Resource.ResourceType == "Patient" {
				patients = append(patients, e.Resource.ID)
			}
		}
	}
	return store, patients
}

func TestGroupExportHoldsTheMembersCompartments(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	store, patients := loadTestdata(t, a)
	members := patients[:2]
	group := fmt.Sprintf(`{"resourceType":"Group","id":"g1","type":"person","actual":true,"member":[{"entity":{"reference":"Patient/%s"}},{"entity":{"reference":"Patient/%s"}}]}`, members[0], members[1])
	if _, err := store.Put(context.Background(), tenant, "Group", "g1", []byte(group)); err != nil {
		t.Fatal(err)
	}
	system(t, a, exporter.Config{})
	types := []string{"Patient", "Observation", "Encounter", "Claim", "Organization", "Practitioner"}
	id := request(t, a, &events.ExportRequested{ResourceTypes: types, Level: events.LevelGroup, GroupID: "g1"})
	j := waitStatus(t, a, id, events.StatusCompleted)
	got := lines(t, a, j.Files)

	want := map[string]bool{}
	in := map[string]bool{members[0]: true, members[1]: true}
	for _, f := range j.Files {
		if !fhir.InPatientCompartment(f.ResourceType) {
			t.Errorf("%s is not in the Patient compartment but was exported", f.ResourceType)
		}
	}
	// Every stored record of the requested compartment types that belongs
	// to a member, and nothing else.
	for _, typ := range types {
		if !fhir.InPatientCompartment(typ) {
			continue
		}
		keys, err := a.FHIR.ListKeysFiltered(context.Background(), events.RecordKey(tenant, typ, "*"))
		if err != nil {
			t.Fatal(err)
		}
		for k := range keys.Keys() {
			e, err := a.FHIR.Get(context.Background(), k)
			if err != nil {
				t.Fatal(err)
			}
			owners, err := fhir.CompartmentPatients(typ, e.Value())
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range owners {
				if in[p] {
					var r struct{ ID string }
					_ = json.Unmarshal(e.Value(), &r)
					want[r.ID] = true
				}
			}
		}
	}
	if len(want) == 0 {
		t.Fatal("no expected records: the test data did not load")
	}
	for id := range want {
		if _, ok := got[id]; !ok {
			t.Errorf("%s of a member is missing", id)
		}
	}
	for id := range got {
		if !want[id] {
			t.Errorf("%s does not belong to a member: leaked into a Group export", id)
		}
	}
	t.Logf("group of %d of %d patients: %d records exported", len(members), len(patients), len(got))
}

func TestGroupExportOfMissingGroupFails(t *testing.T) {
	a := natstest.Assets(t, broker.Config{})
	loadTestdata(t, a)
	system(t, a, exporter.Config{})
	id := request(t, a, &events.ExportRequested{ResourceTypes: []string{"Patient"}, Level: events.LevelGroup, GroupID: "nope"})
	j := waitStatus(t, a, id, events.StatusFailed)
	if j.Error == nil || j.Error.Code != "group_not_found" {
		t.Errorf("error %+v, want group_not_found", j.Error)
	}
}
