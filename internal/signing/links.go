package signing

import (
	"strings"
	"time"

	"github.com/jetexport/jetexport/events"
)

// FilesPrefix starts the path of every download URL. The gateway serves
// FilesPrefix + "<tenant>/<jobId>/<name>" without an API key, given a valid
// signature.
const FilesPrefix = "/v1/files/"

// ExportName is the file name, under a job's download path, of the whole
// export: every part concatenated in manifest order.
const ExportName = "export.ndjson"

// FilePath returns the download path of one stored part, from its object
// name ("<tenant>/<jobId>/<Type>.<n>.ndjson").
func FilePath(object string) string { return FilesPrefix + object }

// ExportPath returns the download path of a job's whole export.
func ExportPath(t events.Tenant, jobID string) string {
	return FilesPrefix + events.ObjectPrefix(t, jobID) + ExportName
}

// FileLink is one output file of a job with its signed URL.
type FileLink struct {
	ResourceType string
	URL          string
	Count, Bytes int64
}

// Links are the signed URLs of a completed job's output.
type Links struct {
	// DownloadURL streams the whole export as one NDJSON document.
	DownloadURL string
	ExpiresAt   time.Time
	// Files are the parts in manifest order.
	Files []FileLink
}

// JobLinks returns absolute signed URLs, valid for ttl from now, for the
// output of job, under baseURL (scheme and host, such as
// "http://127.0.0.1:8080"). A job that is not completed has no links: the
// zero Links is returned.
func (s *Signer) JobLinks(baseURL string, job events.Job, ttl time.Duration) Links {
	if job.Status != events.StatusCompleted {
		return Links{}
	}
	base := strings.TrimRight(baseURL, "/")
	exp := s.now().Add(ttl).Truncate(time.Second).UTC()
	l := Links{
		DownloadURL: base + s.Sign(ExportPath(job.Tenant, job.ID), exp),
		ExpiresAt:   exp,
		Files:       make([]FileLink, 0, len(job.Files)),
	}
	for _, f := range job.Files {
		object := f.Object
		if object == "" {
			object = events.ObjectName(job.Tenant, job.ID, f.ResourceType, f.Part)
		}
		l.Files = append(l.Files, FileLink{ResourceType: f.ResourceType,
			URL: base + s.Sign(FilePath(object), exp), Count: f.Count, Bytes: f.Bytes})
	}
	return l
}
