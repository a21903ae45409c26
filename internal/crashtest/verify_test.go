package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/natstest"
)

// download GETs a signed URL, as a client without the API key does.
func download(tb testing.TB, u string) (int, []byte) {
	tb.Helper()
	resp, err := http.Get(u)
	if err != nil {
		tb.Fatalf("download %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("download %s: %v", u, err)
	}
	return resp.StatusCode, body
}

// objects returns the job's objects in the exports store, by name.
func (s *system) objects(id string) map[string]*jetstream.ObjectInfo {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	infos, err := s.a.Exports.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		s.tb.Fatalf("list objects: %v", err)
	}
	out := map[string]*jetstream.ObjectInfo{}
	for _, info := range infos {
		if strings.HasPrefix(info.Name, events.ObjectPrefix(tenant, id)) {
			out[info.Name] = info
		}
	}
	return out
}

// orphanChunks returns how many chunks the exports store holds that belong
// to no object: the remains of a put that never finished. They take space
// until the store's TTL drops them.
func (s *system) orphanChunks() int {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prefix := "$O." + events.ObjectStoreExports + ".C."
	st, err := s.js.Stream(ctx, "OBJ_"+events.ObjectStoreExports)
	if err != nil {
		s.tb.Fatalf("exports stream: %v", err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		s.tb.Fatalf("exports stream info: %v", err)
	}
	infos, err := s.a.Exports.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		s.tb.Fatalf("list objects: %v", err)
	}
	live := map[string]bool{}
	for _, o := range infos {
		live[prefix+o.NUID] = true
	}
	n := 0
	for subject, count := range info.State.Subjects {
		if !live[subject] {
			n += int(count)
		}
	}
	return n
}

// partOf reads <Type>.<n>.ndjson from a file URL.
func partOf(tb testing.TB, fileURL string) (string, int) {
	tb.Helper()
	u, err := url.Parse(fileURL)
	if err != nil {
		tb.Fatal(err)
	}
	var typ string
	var n int
	if _, err := fmt.Sscanf(strings.ReplaceAll(path.Base(u.Path), ".", " "), "%s %d ndjson", &typ, &n); err != nil {
		tb.Fatalf("file URL %s does not name <Type>.<n>.ndjson: %v", fileURL, err)
	}
	return typ, n
}

// exportLines downloads every file of a completed job and returns its
// lines, checking each file's part number and line count.
func (s *system) exportLines(j jobView) [][]byte {
	s.tb.Helper()
	parts := map[string][]int{}
	var lines [][]byte
	for _, f := range j.Files {
		typ, n := partOf(s.tb, f.URL)
		if typ != f.ResourceType {
			s.tb.Errorf("file %s listed as %s", f.URL, f.ResourceType)
		}
		parts[typ] = append(parts[typ], n)
		status, body := download(s.tb, f.URL)
		if status != http.StatusOK {
			s.tb.Fatalf("download %s.%d: %d %s", typ, n, status, body)
		}
		got := 0
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 8<<20)
		for sc.Scan() {
			lines = append(lines, bytes.Clone(sc.Bytes()))
			got++
		}
		if got != f.Count {
			s.tb.Errorf("%s.%d has %d lines, its listing says %d", typ, n, got, f.Count)
		}
	}
	for typ, ns := range parts {
		slices.Sort(ns)
		for i, n := range ns {
			if n != i+1 {
				s.tb.Errorf("%s parts are %v, want 1..%d", typ, ns, len(ns))
				break
			}
		}
	}
	return lines
}

// checkLines checks that lines hold every record of want exactly once,
// each byte for byte as stored, and nothing else.
func checkLines(tb testing.TB, lines [][]byte, want map[string][]byte) {
	tb.Helper()
	seen := map[string]int{}
	bad := 0
	for _, l := range lines {
		var r struct{ ResourceType, ID string }
		if err := json.Unmarshal(l, &r); err != nil {
			tb.Fatalf("line is not a resource: %v: %.200s", err, l)
		}
		ref := r.ResourceType + "/" + r.ID
		seen[ref]++
		w, ok := want[ref]
		switch {
		case !ok:
			tb.Errorf("%s is in the export but not in the records asked for", ref)
		case !bytes.Equal(l, w) && bad < 5:
			bad++
			tb.Errorf("%s differs from the stored record:\n got %.300s\nwant %.300s", ref, l, w)
		}
	}
	missing, doubled := 0, 0
	for ref := range want {
		switch seen[ref] {
		case 1:
		case 0:
			missing++
			if missing <= 5 {
				tb.Errorf("%s is missing from the export", ref)
			}
		default:
			doubled++
			if doubled <= 5 {
				tb.Errorf("%s appears %d times", ref, seen[ref])
			}
		}
	}
	if missing+doubled > 0 {
		tb.Errorf("%d of %d records missing, %d more than once (%d lines)", missing, len(want), doubled, len(lines))
	}
}

// verifyExport checks a completed job end to end: the downloaded lines
// against want, the log (one ChunkWritten per part, parts consecutive, one
// ExportCompleted whose manifest lists exactly those parts), and the store
// (exactly the manifest's objects, with their digests; no orphan chunk).
// It returns the job's events.
func (s *system) verifyExport(id string, want map[string][]byte) []events.Event {
	s.tb.Helper()
	j := s.waitStatus(id, 90*time.Second, "completed", "failed", "cancelled", "expired")
	if j.Status != "completed" {
		s.tb.Fatalf("job %s is %s (%+v), want completed", id, j.Status, j.Error)
	}
	checkLines(s.tb, s.exportLines(j), want)

	evs := s.jobEvents(id)
	chunks := map[string]int{}
	var manifest []*events.ExportCompleted
	for _, ev := range evs {
		switch p := ev.Data.(type) {
		case *events.ChunkWritten:
			chunks[p.Object]++
		case *events.ExportCompleted:
			manifest = append(manifest, p)
		}
	}
	if len(manifest) != 1 {
		s.tb.Fatalf("%d ExportCompleted events, want 1", len(manifest))
	}
	for obj, n := range chunks {
		if n != 1 {
			s.tb.Errorf("%d ChunkWritten events for %s, want 1", n, obj)
		}
	}
	objs := s.objects(id)
	for _, f := range manifest[0].Files {
		if chunks[f.Object] == 0 {
			s.tb.Errorf("manifest lists %s, which no ChunkWritten recorded", f.Object)
		}
		info, ok := objs[f.Object]
		if !ok {
			s.tb.Errorf("manifest lists %s, which is not in the store", f.Object)
			continue
		}
		delete(objs, f.Object)
		if d := digestHex(info.Digest); d != f.SHA256 || int64(info.Size) != f.Bytes {
			s.tb.Errorf("%s in the store: %d bytes, sha256 %s; manifest: %d bytes, %s", f.Object, info.Size, d, f.Bytes, f.SHA256)
		}
	}
	if len(manifest[0].Files) != len(chunks) {
		s.tb.Errorf("manifest lists %d files, the log recorded %d parts", len(manifest[0].Files), len(chunks))
	}
	for name := range objs {
		s.tb.Errorf("object %s is in the store but not in the manifest", name)
	}
	// A put killed mid-part leaves chunks until an exporter's sweep removes
	// them (once silent for its --stuck-after).
	natstest.Eventually(s.tb, 30*time.Second, "the exports store keeps chunks of no object (a put that never finished)",
		func() bool { return s.orphanChunks() == 0 })
	return evs
}

// digestHex turns an object digest "SHA-256=<base64url>" into hex.
func digestHex(d string) string {
	b, err := base64.URLEncoding.DecodeString(strings.TrimPrefix(d, "SHA-256="))
	if err != nil {
		return d
	}
	return hex.EncodeToString(b)
}
