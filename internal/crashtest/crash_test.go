package crashtest

import (
	"slices"
	"testing"
	"time"

	"github.com/jetexport/jetexport/events"
)

// TestCrashResume SIGKILLs an exporter at each point of an export and lets
// a second exporter process finish it. 60 synthetic patients give 60
// Patients (one part) and 2,283 Observations (eight parts of 300, unless
// a case says otherwise), read in one pass: the records of each patient
// together, so the Observation parts are stored one after the other while
// the Patient part stays open until the pass ends.
func TestCrashResume(t *testing.T) {
	tests := []struct {
		name  string
		pause string
		byB   []string // the types exporter-b finishes
		flags []string // exporter-a's own
	}{
		// With parts of 2,000, record 1,500 of the pass is about the
		// 1,460th Observation: Observation.1's put is under way, two of its
		// 512 KiB chunks already stored, and the Patient part is open.
		{"mid-part", "record:1500", []string{"Patient", "Observation"}, []string{"--part-max-resources", "2000"}},
		// Observation.3 is in the store, its ChunkWritten not yet published.
		{"part stored, not recorded", "part-stored:3", []string{"Patient", "Observation"}, nil},
		// Observation.1 and .2 recorded, .3 under way.
		{"part recorded", "part-recorded:2", []string{"Patient", "Observation"}, nil},
		// The ninth and last part recorded (Observation.8 or Patient.1, the
		// two end together): every part stored, no type recorded finished.
		{"every part recorded", "part-recorded:9", []string{"Patient", "Observation"}, nil},
		// Every type finished, the manifest not yet published.
		{"before complete", "before-complete:1", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSystem(t, options{})
			s.load(60, 1)
			want := s.stored("Patient", "Observation")
			a := s.exporter("exporter-a", tt.pause, tt.flags...)
			id := s.kickOff("Patient", "Observation")
			a.waitLine(t, time.Minute, "paused at "+tt.pause)

			// What the log says was done before the crash, and the
			// objects of those parts as they are now.
			recorded := map[string]string{} // object -> NUID
			objs := s.objects(id)
			for _, ev := range s.jobEvents(id) {
				if c, ok := ev.Data.(*events.ChunkWritten); ok {
					info, ok := objs[c.Object]
					if !ok {
						t.Fatalf("%s is recorded but not in the store", c.Object)
					}
					recorded[c.Object] = info.NUID
				}
			}
			a.kill()
			killedAt := time.Now()
			// exporter-b sweeps chunk sets left by a put that never finished
			// once they have been silent for --stuck-after.
			s.exporter("exporter-b", "", "--stuck-after", "3s", "--retention-check", "500ms")

			evs := s.verifyExport(id, want)
			t.Logf("finished %s after the kill; %d parts recorded before it", time.Since(killedAt).Round(time.Millisecond), len(recorded))

			// Resumed, not restarted: no part recorded before the kill was
			// written again.
			after := s.objects(id)
			for obj, nuid := range recorded {
				if info := after[obj]; info == nil || info.NUID != nuid {
					t.Errorf("%s, recorded before the kill, was written again", obj)
				}
			}
			// exporter-b did what was left, exporter-a the rest.
			for _, ev := range evs {
				f, ok := ev.Data.(*events.ExportTaskFinished)
				if !ok {
					continue
				}
				want := "exporter-a"
				if slices.Contains(tt.byB, f.ResourceType) {
					want = "exporter-b"
				}
				if f.WorkerID != want {
					t.Errorf("%s finished by %s, want %s", f.ResourceType, f.WorkerID, want)
				}
			}
		})
	}
}
