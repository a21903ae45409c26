package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/apikeys"
	"github.com/jetexport/jetexport/internal/app"
	"github.com/jetexport/jetexport/internal/fhir"
	"github.com/jetexport/jetexport/internal/loader"
	"github.com/jetexport/jetexport/internal/natstest"
	"github.com/jetexport/jetexport/internal/smart"
)

// fixtureDir is the 100-patient Synthea fixture beside the repository.
var fixtureDir = filepath.Join("..", "..", "..", "shared", "fixtures", "synthea-r4-100", "bundles")

// fixture is what the fixture holds: every distinct record by Type/id, and
// the patients of each record of a Patient-compartment type.
type fixture struct {
	records  map[string]bool
	patients map[string][]string // Type/id -> compartment patients
	groupID  string
	members  []string
	// loadedPatients are the patients of the files read.
	loadedPatients []string
	perType        map[string]int
}

// fixtureFiles returns the fixture's files: all of them, or under the race
// detector (ten times slower) the three smallest patients and the shared
// Organizations and Practitioners, without the Group.
func fixtureFiles(tb testing.TB) []string {
	tb.Helper()
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	if len(files) == 0 {
		tb.Skipf("fixtures absent: %s holds no bundles", fixtureDir)
	}
	if !raceEnabled {
		return files
	}
	var small []string
	for _, f := range files {
		for _, prefix := range []string{"Fannie_Waelchi", "Dwain_McGlynn", "Wm_Bergstrom", "hospitalInformation", "practitionerInformation"} {
			if strings.HasPrefix(filepath.Base(f), prefix) {
				small = append(small, f)
			}
		}
	}
	return small
}

func readFixture(tb testing.TB, files []string) fixture {
	tb.Helper()
	fx := fixture{records: map[string]bool{}, patients: map[string][]string{}, perType: map[string]int{}}
	add := func(typ, id string, raw []byte) {
		key := typ + "/" + id
		if fx.records[key] {
			return
		}
		fx.records[key] = true
		fx.perType[typ]++
		if fhir.InPatientCompartment(typ) {
			ps, err := fhir.CompartmentPatients(typ, raw)
			if err != nil {
				tb.Fatalf("%s: %v", key, err)
			}
			fx.patients[key] = ps
		}
	}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		if b, err := fhir.ParseBundle(body); err == nil {
			for _, e := range b.Entries {
				add(e.Type, e.ID, e.Resource.Raw)
				if e.Type == "Patient" {
					fx.loadedPatients = append(fx.loadedPatients, e.ID)
				}
			}
			continue
		}
		var g struct {
			ResourceType, ID string
			Member           []struct{ Entity struct{ Reference string } }
		}
		if err := json.Unmarshal(body, &g); err != nil || g.ResourceType != "Group" {
			tb.Fatalf("%s is neither a Bundle nor a Group", f)
		}
		fx.groupID = g.ID
		for _, m := range g.Member {
			fx.members = append(fx.members, strings.TrimPrefix(m.Entity.Reference, "urn:uuid:"))
		}
		// The loader stores the Group with its members as Patient/<id>.
		add("Group", g.ID, []byte(strings.ReplaceAll(string(body), "urn:uuid:", "Patient/")))
	}
	return fx
}

// inCompartments returns the records in the compartment of any of patients.
func (fx fixture) inCompartments(patients []string) map[string]bool {
	out := map[string]bool{}
	for key, ps := range fx.patients {
		for _, p := range ps {
			if slices.Contains(patients, p) {
				out[key] = true
				break
			}
		}
	}
	return out
}

// TestBulkDataEndToEnd loads the 100-patient fixture into the real wiring
// (app.Start, as `jetexport serve`) and exports it through the FHIR door:
// system level with a SMART bearer token (every record exactly once,
// counts per type), Group level with the API key and Patient level with the
// patient parameter (exactly the records of the patients' compartments,
// nothing else).
func TestBulkDataEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 100-patient fixture")
	}
	files := fixtureFiles(t)
	fx := readFixture(t, files)
	cfg := app.Config{DataDir: t.TempDir(), HTTP: "127.0.0.1:0", Services: app.All,
		Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}
	cfg.Gateway.FHIR.MinPollInterval = time.Millisecond // the test polls fast
	cfg.Gateway.RateLimit = 100_000
	cfg.Exporter.PartMaxResources = 5000 // several files for the big types
	sys, err := app.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sys.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	key, _, err := apikeys.New(sys.Assets.APIKeys, nil).Create(context.Background(), "acme", events.ModeTest, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	l, err := loader.New(loader.Config{URL: sys.HTTPURL, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	st, err := l.LoadPaths(context.Background(), files, nil)
	if err != nil {
		t.Fatalf("load: %v (%+v)", err, st)
	}
	t.Logf("loaded %d resources in %s", st.Resources, time.Since(start).Round(time.Millisecond))
	h := &harness{tb: t, url: sys.HTTPURL, client: &http.Client{Timeout: time.Minute}, clock: &clock{t: time.Now()}}
	kp, clientID := h.registerClient(key, smart.AlgES384, "system/*.read")
	token := h.bearer(kp, clientID, "system/*.rs")

	t.Run("system level, bearer token, every record once", func(t *testing.T) {
		got := exportAll(t, h, cred{bearer: token}, request{method: "GET", path: "/fhir/$export"})
		if len(got) != len(fx.records) || !raceEnabled && len(got) != 38473 {
			t.Errorf("exported %d records, want %d (38,473 distinct in the fixture)", len(got), len(fx.records))
		}
		perType := map[string]int{}
		for k := range got {
			if !fx.records[k] {
				t.Errorf("%s is not in the fixture", k)
			}
			perType[strings.Split(k, "/")[0]]++
		}
		for typ, n := range fx.perType {
			if perType[typ] != n {
				t.Errorf("%s: %d exported, want %d", typ, perType[typ], n)
			}
		}
		t.Logf("per type: %v", perType)
	})
	t.Run("group level, API key, the members' compartments", func(t *testing.T) {
		if fx.groupID == "" {
			t.Skip("the Group is not loaded under the race detector")
		}
		got := exportAll(t, h, cred{key: key}, request{method: "GET", path: "/fhir/Group/" + fx.groupID + "/$export"})
		wantSame(t, got, fx.inCompartments(fx.members))
	})
	t.Run("patient level, patient parameter, their compartments only", func(t *testing.T) {
		picked := fx.loadedPatients[:3]
		body := `{"resourceType":"Parameters","parameter":[`
		for i, p := range picked {
			if i > 0 {
				body += ","
			}
			body += `{"name":"patient","valueReference":{"reference":"Patient/` + p + `"}}`
		}
		body += `]}`
		got := exportAll(t, h, cred{bearer: token}, request{method: "POST", path: "/fhir/Patient/$export",
			contentType: "application/fhir+json", body: []byte(body)})
		want := fx.inCompartments(picked)
		if len(want) == 0 || !raceEnabled && len(want) == len(fx.patients) {
			t.Fatalf("%d records in 3 patients' compartments: the check would prove nothing", len(want))
		}
		wantSame(t, got, want)
	})
}

// exportAll kicks off, polls the status URL to the manifest and downloads
// every output file: it returns how often each Type/id came back.
func exportAll(t *testing.T, h *harness, c cred, kick request) map[string]int {
	t.Helper()
	kick.header = fhirHeaders
	start := time.Now()
	r := h.do(c.apply(kick))
	id := h.jobOf(r)
	if id == "" {
		t.Fatalf("kick-off: %d %s", r.status, r.body)
	}
	var m bulkManifest
	natstest.Eventually(t, 5*time.Minute, "the export completes", func() bool {
		r := h.do(c.apply(request{method: "GET", path: "/fhir/bulkstatus/" + id}))
		switch r.status {
		case 202, 429:
			return false
		case 200:
			m = decodeManifest(t, r)
			return true
		}
		t.Fatalf("status: %d %s", r.status, r.body)
		return false
	})
	done := time.Since(start)
	if m.Request != h.url+kick.path {
		t.Errorf("manifest request %q, want %q", m.Request, h.url+kick.path)
	}
	got := map[string]int{}
	for _, f := range m.Output {
		resp, err := h.client.Get(f.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v", f.URL, resp.StatusCode, err)
		}
		ls := lines(body)
		if int64(len(ls)) != f.Count {
			t.Errorf("%s file has %d lines, count %d", f.Type, len(ls), f.Count)
		}
		for _, l := range ls {
			var res struct{ ResourceType, ID string }
			if err := json.Unmarshal([]byte(l), &res); err != nil || res.ResourceType != f.Type {
				t.Fatalf("a %s file holds %.100s", f.Type, l)
			}
			got[res.ResourceType+"/"+res.ID]++
		}
	}
	t.Logf("%d files, %d records; export %s, with downloads %s", len(m.Output), len(got),
		done.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	for k, n := range got {
		if n != 1 {
			t.Errorf("%s came back %d times", k, n)
		}
	}
	return got
}

// wantSame checks that exactly the records of want came back.
func wantSame(t *testing.T, got map[string]int, want map[string]bool) {
	t.Helper()
	for k := range got {
		if !want[k] {
			t.Errorf("%s is outside the selected compartments", k)
		}
	}
	for k := range want {
		if got[k] == 0 {
			t.Errorf("%s is missing", k)
		}
	}
	t.Logf("%d records, all in the selected compartments, none missing", len(want))
}
