package fhirstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/fhir"
)

// GetAsOf returns the record typ/id of tenant t as it was at stream
// sequence seq of the records stream (an export's snapshot bound, see
// [SnapshotSeq]). Sequence 0 is the bound of an export that began with an
// empty stream, so nothing existed then: ErrNotFound (read the latest
// version with [Store.Get]). It reads with one
// batched direct get (multi_last with up_to_seq), so it sees the version
// as of seq while the bucket still keeps it: the fhir bucket keeps a few
// versions per key (broker.Config.FHIRHistory), and a record updated more
// often than that since seq has lost its older versions and answers
// ErrNotFound.
//
// Errors wrap ErrNotFound (no version at or before seq), ErrDeleted (the
// version at seq is a delete) or ErrInvalid (a bad tenant, type or id).
func GetAsOf(ctx context.Context, js jetstream.JetStream, t events.Tenant, typ, id string, seq uint64) ([]byte, error) {
	if err := checkTarget(t, typ, id); err != nil {
		return nil, err
	}
	if seq == 0 {
		return nil, fmt.Errorf("%w: %s/%s as of sequence 0, before any record", ErrNotFound, typ, id)
	}
	subject := "$KV." + events.BucketFHIR + "." + events.RecordKey(t, typ, id)
	msgs, err := jetstreamext.GetLastMsgsFor(ctx, js, fhirStream, []string{subject}, jetstreamext.GetLastMsgsUpToSeq(seq))
	if err != nil {
		return nil, fmt.Errorf("read %s/%s as of %d: %w", typ, id, seq, err)
	}
	for m, err := range msgs {
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s/%s as of %d: %w", typ, id, seq, err)
		}
		if m.Header.Get(kvOperation) != "" {
			return nil, fmt.Errorf("%w: %s/%s was deleted as of sequence %d", ErrDeleted, typ, id, seq)
		}
		return m.Data, nil
	}
	return nil, fmt.Errorf("%w: %s/%s as of sequence %d", ErrNotFound, typ, id, seq)
}

// ErrNotGroup: GroupMembers was given something other than a Group.
var ErrNotGroup = errors.New("not a Group")

// groupJSON is what GroupMembers reads of a Group.
type groupJSON struct {
	ResourceType string `json:"resourceType"`
	Member       []struct {
		Entity struct {
			Reference string `json:"reference"`
		} `json:"entity"`
		Inactive bool `json:"inactive"`
	} `json:"member"`
}

// GroupMembers returns the patient ids of a Group resource's members, each
// once, in order: member.entity references "Patient/<id>" (also absolute
// URLs and "/_history/<v>" forms), and "urn:uuid:<id>" read as Patient
// <id>. The fixtures' Group is a bare resource whose members are
// urn:uuid: references to patients whose ids are those uuids; only a
// Bundle's urn:uuid references are rewritten when stored (Put keeps the
// resource as sent), so the stored Group keeps that form. Members marked
// inactive and members of other types (Practitioner, Device...) are left
// out. Errors wrap ErrNotGroup or ErrInvalid (not JSON).
func GroupMembers(group []byte) ([]string, error) {
	var g groupJSON
	if err := json.Unmarshal(group, &g); err != nil {
		return nil, fmt.Errorf("%w: group: %w: %v", ErrInvalid, fhir.ErrNotJSON, err)
	}
	if g.ResourceType != "Group" {
		return nil, fmt.Errorf("%w: resourceType is %q", ErrNotGroup, g.ResourceType)
	}
	out := make([]string, 0, len(g.Member))
	seen := make(map[string]bool, len(g.Member))
	for _, m := range g.Member {
		id := memberPatient(m.Entity.Reference)
		if m.Inactive || id == "" || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	return out, nil
}

// memberPatient returns the patient id a Group member reference names, or
// "".
func memberPatient(ref string) string {
	typ, id := fhir.SplitReference(ref)
	if typ == "Patient" || (typ == "" && strings.HasPrefix(ref, "urn:uuid:")) {
		return id
	}
	return ""
}
