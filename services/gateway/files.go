package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/signing"
)

// download handles GET /v1/files/{tenant}/{jobId}/{name}: name is one
// stored part (<Type>.<n>.ndjson, served as application/fhir+ndjson) or
// export.ndjson, every part concatenated in manifest order (served as
// application/x-ndjson). The body streams from the object store; with
// Accept-Encoding: gzip it is compressed on the fly.
func (g *Gateway) download(c *fiber.Ctx) error {
	path := utils.CopyString(c.Path())
	q, err := url.ParseQuery(string(c.Request().URI().QueryString()))
	if err != nil {
		return fmt.Errorf("%w: the query cannot be parsed", signing.ErrBadSignature)
	}
	if err := g.signer.Verify(path, q); err != nil {
		if errors.Is(err, signing.ErrBadSignature) || errors.Is(err, signing.ErrExpired) {
			return err
		}
		return unavailable("the signing keys", err)
	}
	tenant, name := events.Tenant(c.Params("tenant")), utils.CopyString(c.Params("name"))
	if !tenant.Valid() {
		return fail(kindNotFound, "no such file").withCode("file_not_found")
	}
	job, err := g.loadJob(c.UserContext(), tenant, c.Params("jobId"))
	var ae *apiError
	if errors.As(err, &ae) && ae.kind == kindNotFound {
		return gone("the export is no longer available")
	}
	if err != nil {
		return err
	}
	switch job.Status {
	case events.StatusCompleted:
	case events.StatusExpired:
		return gone("the export's files passed their retention and were removed (job expired)")
	case events.StatusCancelled:
		return gone("the export was cancelled and its files removed")
	default:
		return fail(kindNotFound, "job %s has no files yet (it is %s)", job.ID, job.Status).withCode("file_not_found")
	}
	objects, contentType, err := selectObjects(job, name)
	if err != nil {
		return err
	}
	return g.streamObjects(c, objects, contentType, job.ID+"-"+name)
}

// streamObjects answers with stored objects one after the other, in
// constant memory (the chunk reader of stream.go), gzip-compressed on
// request. filename, if set, names the download.
func (g *Gateway) streamObjects(c *fiber.Ctx, objects []string, contentType, filename string) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), readTimeout)
	defer cancel()
	var size int64
	infos := make([]*jetstream.ObjectInfo, len(objects))
	for i, o := range objects {
		info, err := g.assets.Exports.GetInfo(ctx, o)
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return gone("a file of this export is no longer in storage")
		}
		if err != nil {
			return unavailable("the file store", err)
		}
		if info.Opts != nil && info.Opts.Link != nil {
			return fail(kindInternal, "export file %s is a link, which downloads do not follow", o)
		}
		infos[i], size = info, size+int64(info.Size)
	}
	body := newObjectsReader(g.assets.JS, infos)
	c.Set(fiber.HeaderContentType, contentType)
	if filename != "" {
		c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s"`, filename))
	}
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	c.Status(fiber.StatusOK)
	if acceptsGzip(c.Get(fiber.HeaderAcceptEncoding)) {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		c.Context().SetBodyStream(gzipStream(body), -1)
		return nil
	}
	c.Context().SetBodyStream(body, int(size))
	return nil
}

// selectObjects returns the objects a download name stands for and its
// content type.
func selectObjects(job events.Job, name string) ([]string, string, error) {
	prefix := events.ObjectPrefix(job.Tenant, job.ID)
	objects := make([]string, 0, len(job.Files))
	for _, f := range job.Files {
		o := f.Object
		if o == "" {
			o = events.ObjectName(job.Tenant, job.ID, f.ResourceType, f.Part)
		}
		if name == signing.ExportName {
			objects = append(objects, o)
		} else if o == prefix+name {
			return []string{o}, contentFHIRNDJSON, nil
		}
	}
	if name == signing.ExportName {
		return objects, contentNDJSON, nil
	}
	return nil, "", fail(kindNotFound, "job %s has no file %q", job.ID, truncate(name, 64)).withCode("file_not_found")
}

func gone(msg string) *apiError { return fail(kindGone, "%s", msg) }

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
