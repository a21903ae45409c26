package gateway_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/signing"
	"github.com/jetexport/jetexport/services/gateway"
)

// part is one NDJSON part a fake exporter writes.
type part struct {
	typ  string
	n    int
	body []byte
}

func ndjson(typ string, from, count int) []byte {
	var b bytes.Buffer
	for i := from; i < from+count; i++ {
		fmt.Fprintf(&b, `{"resourceType":%q,"id":"%s-%d","meta":{"versionId":"1"}}`+"\n", typ, strings.ToLower(typ), i)
	}
	return b.Bytes()
}

// complete plays the exporter and the projector for job id: it stores the
// parts in the object store, publishes started, one chunk per part and
// completed, folds the job's events from the stream with events.Apply and
// puts the document in KV jobs.
func (h *harness) complete(t events.Tenant, id string, parts []part) events.Job {
	h.tb.Helper()
	ctx := context.Background()
	now := h.clock.Now()
	publish := func(p events.Payload, part string) {
		h.tb.Helper()
		ev := events.New(fmt.Sprintf("%s-%s-%s", id, p.Kind(), part), now, t, id, p)
		if _, err := broker.Publish(ctx, h.assets.JS, ev, events.MsgID(id, p.Kind(), part)); err != nil {
			h.tb.Fatalf("publish %s: %v", p.Kind(), err)
		}
	}
	totals := map[string]int64{}
	for _, p := range parts {
		totals[p.typ] += int64(bytes.Count(p.body, []byte("\n")))
	}
	publish(&events.ExportStarted{WorkerID: "w1", Attempt: 1, TransactionTime: now, Totals: totals}, "")
	var files []events.File
	scanned := map[string]int64{}
	for _, p := range parts {
		name := events.ObjectName(t, id, p.typ, p.n)
		if _, err := h.assets.Exports.PutBytes(ctx, name, p.body); err != nil {
			h.tb.Fatalf("put %s: %v", name, err)
		}
		sum := sha256.Sum256(p.body)
		count := int64(bytes.Count(p.body, []byte("\n")))
		scanned[p.typ] += count
		f := events.File{ResourceType: p.typ, Part: p.n, Object: name, Count: count,
			Bytes: int64(len(p.body)), SHA256: hex.EncodeToString(sum[:])}
		files = append(files, f)
		publish(&events.ChunkWritten{ResourceType: p.typ, Part: p.n, Object: name, Resources: f.Count,
			Bytes: f.Bytes, SHA256: f.SHA256, Scanned: scanned[p.typ]}, fmt.Sprintf("%s.%d", p.typ, p.n))
	}
	publish(&events.ExportCompleted{TransactionTime: now, Files: files}, "")
	return h.project(t, id)
}

// project folds every event of a job from the stream and stores the
// document as the projector would.
func (h *harness) project(t events.Tenant, id string) events.Job {
	h.tb.Helper()
	ctx := context.Background()
	evs, err := broker.JobEvents(ctx, h.assets.JS, t, id)
	if err != nil {
		h.tb.Fatalf("job events: %v", err)
	}
	var job events.Job
	for _, ev := range evs {
		job = events.Apply(job, ev)
	}
	b, err := json.Marshal(job)
	if err != nil {
		h.tb.Fatal(err)
	}
	if _, err := h.assets.Jobs.Put(ctx, events.JobKey(t, id), b); err != nil {
		h.tb.Fatalf("put job: %v", err)
	}
	return job
}

// publishEvent appends one more event of a job to the log.
func (h *harness) publishEvent(t events.Tenant, id string, p events.Payload) {
	h.tb.Helper()
	ev := events.New(id+"-"+string(p.Kind()), h.clock.Now(), t, id, p)
	if _, err := broker.Publish(context.Background(), h.assets.JS, ev, events.MsgID(id, p.Kind(), "")); err != nil {
		h.tb.Fatalf("publish: %v", err)
	}
}

func TestJobPendingBeforeProjection(t *testing.T) {
	h := newHarness(t, gateway.Config{}, nil)
	plain, _ := h.key("acme", events.ModeTest)
	id := job(t, h.startExport(plain, seedBody), 202).JobID
	// No projector runs here: the KV document does not exist.
	d := job(t, h.do(request{method: "GET", path: "/v1/bulk/jobs/" + id, key: plain}), 200)
	if d.JobID != id || d.Status != "pending" || d.Since == nil || *d.Since != "2025-01-01T00:00:00Z" ||
		d.CreatedAt == "" || d.StartedAt != nil || d.Progress.Percent != nil || d.DownloadURL != "" {
		t.Fatalf("job = %+v, want pending with since and no progress", d)
	}
	if diff := cmp.Diff([]string{"Patient", "Encounter", "Observation"}, d.ResourceTypes); diff != "" {
		t.Errorf("resourceTypes (-want +got):\n%s", diff)
	}
}

func TestJobProcessing(t *testing.T) {
	h := newHarness(t, gateway.Config{}, nil)
	plain, key := h.key("acme", events.ModeTest)
	id := job(t, h.startExport(plain, `{"resourceTypes":["Patient"]}`), 202).JobID
	h.publishEvent(key.Tenant, id, &events.ExportStarted{WorkerID: "w", Attempt: 1,
		TransactionTime: h.clock.Now(), Totals: map[string]int64{"Patient": 8}})
	h.publishEvent(key.Tenant, id, &events.ChunkWritten{ResourceType: "Patient", Part: 1,
		Object: events.ObjectName(key.Tenant, id, "Patient", 1), Resources: 2, Bytes: 100, Scanned: 3})
	h.project(key.Tenant, id)
	d := job(t, h.do(request{method: "GET", path: "/v1/bulk/jobs/" + id, key: plain}), 200)
	if d.Status != "processing" || d.StartedAt == nil || d.TransactionTime == nil ||
		d.Progress.Resources != 2 || d.Progress.Bytes != 100 || d.Progress.Files != 1 ||
		d.Progress.Percent == nil || *d.Progress.Percent != 37.5 || d.DownloadURL != "" || d.Files != nil {
		t.Fatalf("job = %+v", d)
	}
	h.publishEvent(key.Tenant, id, &events.ExportFailed{Code: "store_unavailable", Message: "the fhir bucket is gone", Attempts: 3})
	h.project(key.Tenant, id)
	d = job(t, h.do(request{method: "GET", path: "/v1/bulk/jobs/" + id, key: plain}), 200)
	if d.Status != "failed" || d.Error == nil || d.Error.Code != "store_unavailable" || d.Error.Message != "the fhir bucket is gone" {
		t.Fatalf("failed job = %+v", d)
	}
}

func TestTenantIsolation(t *testing.T) {
	h := newHarness(t, gateway.Config{}, nil)
	acmeTest, _ := h.key("acme", events.ModeTest)
	acmeLive, _ := h.key("acme", events.ModeLive)
	beta, _ := h.key("beta", events.ModeTest)
	testJob := job(t, h.startExport(acmeTest, seedBody), 202).JobID
	liveJob := job(t, h.startExport(acmeLive, seedBody), 202).JobID
	tests := []struct {
		name, key, id string
		status        int
	}{
		{"own test job", acmeTest, testJob, 200},
		{"own live job", acmeLive, liveJob, 200},
		{"test key, live job", acmeTest, liveJob, 404},
		{"live key, test job", acmeLive, testJob, 404},
		{"other customer", beta, testJob, 404},
		{"unknown id", acmeTest, "job_01JNM0000000000000000000AA", 404},
		{"malformed id", acmeTest, "job_123", 404},
		{"path-like id", acmeTest, "..%2F..%2Fjobs", 404},
	}
	for _, tt := range tests {
		for _, method := range []string{"GET", "DELETE"} {
			t.Run(tt.name+" "+method, func(t *testing.T) {
				if method == "DELETE" && tt.status == 200 {
					return // cancelling is TestCancel's
				}
				r := h.do(request{method: method, path: "/v1/bulk/jobs/" + tt.id, key: tt.key})
				if tt.status == 200 {
					job(t, r, 200)
					return
				}
				wantError(t, r, 404, "job_not_found")
			})
		}
	}
}

func TestCancel(t *testing.T) {
	h := newHarness(t, gateway.Config{}, nil)
	plain, key := h.key("acme", events.ModeTest)
	id := job(t, h.startExport(plain, seedBody), 202).JobID
	d := job(t, h.do(request{method: "DELETE", path: "/v1/bulk/jobs/" + id, key: plain}), 202)
	if d.JobID != id || d.Status != "cancelled" {
		t.Fatalf("cancel answered %+v", d)
	}
	ev, err := broker.LastEvent(context.Background(), h.assets.Stream, key.Tenant, id, events.KindCancel)
	if err != nil {
		t.Fatalf("cancel event: %v", err)
	}
	if by := ev.Data.(*events.ExportCancelRequested).By; by != key.ID {
		t.Errorf("cancelled by %q, want %q", by, key.ID)
	}
	h.project(key.Tenant, id)
	wantError(t, h.do(request{method: "DELETE", path: "/v1/bulk/jobs/" + id, key: plain}), 409, "job_cancelled", "already cancelled")

	failed := job(t, h.startExport(plain, seedBody), 202).JobID
	h.publishEvent(key.Tenant, failed, &events.ExportFailed{Code: "x", Message: "y"})
	h.project(key.Tenant, failed)
	wantError(t, h.do(request{method: "DELETE", path: "/v1/bulk/jobs/" + failed, key: plain}), 409, "job_failed", "already failed")
}

func TestCompletedJobAndDownloads(t *testing.T) {
	h := newHarness(t, gateway.Config{}, nil)
	plain, key := h.key("acme", events.ModeTest)
	id := job(t, h.startExport(plain, `{"resourceTypes":["Patient","Observation"]}`), 202).JobID
	parts := []part{
		{"Patient", 1, ndjson("Patient", 0, 3)},
		{"Observation", 1, ndjson("Observation", 0, 500)},
		{"Observation", 2, ndjson("Observation", 500, 4000)}, // several object store chunks
	}
	h.complete(key.Tenant, id, parts)
	d := job(t, h.do(request{method: "GET", path: "/v1/bulk/jobs/" + id, key: plain}), 200)
	if d.Status != "completed" || d.CompletedAt == nil || d.TransactionTime == nil ||
		d.Progress.Percent == nil || *d.Progress.Percent != 100 || d.Progress.Resources != 4503 || d.Progress.Files != 3 {
		t.Fatalf("job = %+v", d)
	}
	exp, err := time.Parse(time.RFC3339, *d.ExpiresAt)
	if err != nil || exp.Sub(h.clock.Now()) > time.Hour || exp.Sub(h.clock.Now()) < time.Hour-time.Second {
		t.Fatalf("expiresAt %v, want an hour from now (%v)", *d.ExpiresAt, h.clock.Now())
	}
	var whole []byte
	for i, f := range d.Files {
		p := parts[i]
		if f.ResourceType != p.typ || f.Count != int64(bytes.Count(p.body, []byte("\n"))) || f.Bytes != int64(len(p.body)) {
			t.Errorf("file %d = %+v, want %s %d", i, f, p.typ, p.n)
		}
		whole = append(whole, p.body...)
	}
	if !strings.HasPrefix(d.DownloadURL, h.url+"/v1/files/acme_test/"+id+"/export.ndjson?") {
		t.Fatalf("downloadUrl %q", d.DownloadURL)
	}

	type download struct {
		name, url, gzip, contentType string
		want                         []byte
	}
	downloads := []download{{name: "whole", url: d.DownloadURL, contentType: "application/x-ndjson", want: whole}}
	for i, f := range d.Files {
		downloads = append(downloads, download{name: fmt.Sprintf("file %d", i), url: f.URL,
			contentType: "application/fhir+ndjson", want: parts[i].body})
	}
	for _, dl := range append([]download(nil), downloads...) {
		dl.name, dl.gzip = dl.name+" gzip", "gzip, deflate, br"
		downloads = append(downloads, dl)
	}
	for _, dl := range downloads {
		t.Run(dl.name, func(t *testing.T) {
			// No API key: the signature is the authorisation.
			r := h.do(request{method: "GET", path: dl.url, header: map[string]string{"Accept-Encoding": dl.gzip}})
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != dl.contentType {
				t.Errorf("Content-Type %q, want %q", ct, dl.contentType)
			}
			body := r.body
			if dl.gzip != "" {
				if r.header.Get("Content-Encoding") != "gzip" {
					t.Fatalf("Content-Encoding %q, want gzip", r.header.Get("Content-Encoding"))
				}
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			} else if r.header.Get("Content-Encoding") != "" || r.header.Get("Content-Length") != fmt.Sprint(len(dl.want)) {
				t.Errorf("plain download: Content-Encoding %q, Content-Length %q, want none and %d",
					r.header.Get("Content-Encoding"), r.header.Get("Content-Length"), len(dl.want))
			}
			if !bytes.Equal(body, dl.want) {
				t.Fatalf("downloaded %d bytes, want %d exact bytes", len(body), len(dl.want))
			}
		})
	}

	t.Run("tampered", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			change func(u *url.URL, q url.Values)
		}{
			{"path", func(u *url.URL, _ url.Values) { u.Path = strings.Replace(u.Path, "Patient.1", "Observation.1", 1) }},
			{"signature", func(_ *url.URL, q url.Values) { q.Set("sig", "A"+q.Get("sig")[1:]) }},
			{"expiry", func(_ *url.URL, q url.Values) { q.Set("exp", fmt.Sprint(time.Now().Add(48*time.Hour).Unix())) }},
			{"key id", func(_ *url.URL, q url.Values) { q.Set("kid", "0123456789abcdef") }},
			{"no signature", func(_ *url.URL, q url.Values) { q.Del("sig") }},
		} {
			t.Run(tt.name, func(t *testing.T) {
				u, err := url.Parse(d.Files[0].URL)
				if err != nil {
					t.Fatal(err)
				}
				q := u.Query()
				tt.change(u, q)
				u.RawQuery = q.Encode()
				wantError(t, h.do(request{method: "GET", path: u.String()}), 403, "invalid_signature", "signature")
			})
		}
	})
	t.Run("unknown file with a valid signature", func(t *testing.T) {
		s, err := signing.New(context.Background(), h.assets.Signing, h.clock.Now)
		if err != nil {
			t.Fatal(err)
		}
		path := signing.FilePath(events.ObjectName(key.Tenant, id, "Condition", 1))
		wantError(t, h.do(request{method: "GET", path: h.url + s.Sign(path, h.clock.Now().Add(time.Hour))}), 404, "file_not_found")
	})
	t.Run("expired", func(t *testing.T) {
		h.clock.Add(time.Hour + time.Second)
		defer h.clock.Add(-time.Hour - time.Second)
		wantError(t, h.do(request{method: "GET", path: d.DownloadURL}), 403, "link_expired", "expired")
	})
	t.Run("object gone", func(t *testing.T) {
		if err := h.assets.Exports.Delete(context.Background(), events.ObjectName(key.Tenant, id, "Patient", 1)); err != nil {
			t.Fatal(err)
		}
		wantError(t, h.do(request{method: "GET", path: d.Files[0].URL}), 410, "gone")
		wantError(t, h.do(request{method: "GET", path: d.DownloadURL}), 410, "gone")
		if r := h.do(request{method: "GET", path: d.Files[1].URL}); r.status != 200 {
			t.Errorf("the remaining part answers %d", r.status)
		}
	})
	t.Run("job expired", func(t *testing.T) {
		h.publishEvent(key.Tenant, id, &events.ExportExpired{ObjectsRemoved: 3})
		h.project(key.Tenant, id)
		wantError(t, h.do(request{method: "GET", path: d.Files[1].URL}), 410, "gone", "expired")
		e := job(t, h.do(request{method: "GET", path: "/v1/bulk/jobs/" + id, key: plain}), 200)
		if e.Status != "expired" || e.DownloadURL != "" || e.Files != nil {
			t.Errorf("expired job = %+v", e)
		}
	})
}
