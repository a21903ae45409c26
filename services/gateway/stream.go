package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/nats-io/nats.go/jetstream"
)

// objectsReader reads stored objects one after the other, each opened
// only when the previous one is done, so a download of any size holds one
// object reader at a time. A failure part-way is returned as an error, not
// EOF: the HTTP server then drops the connection instead of ending the
// body as if it were complete.
type objectsReader struct {
	store  jetstream.ObjectStore
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	names  []string
	cur    jetstream.ObjectResult
	closed bool
}

var errClosed = errors.New("download closed")

func newObjectsReader(store jetstream.ObjectStore, names []string) *objectsReader {
	ctx, cancel := context.WithCancel(context.Background())
	return &objectsReader{store: store, ctx: ctx, cancel: cancel, names: names}
}

// Read implements io.Reader.
func (r *objectsReader) Read(p []byte) (int, error) {
	for {
		cur, err := r.current()
		if err != nil {
			return 0, err
		}
		n, err := cur.Read(p)
		if errors.Is(err, io.EOF) {
			r.next()
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			return n, fmt.Errorf("read export file: %w", err)
		}
		return n, nil
	}
}

// current returns the object being read, opening the next one if needed;
// io.EOF after the last.
func (r *objectsReader) current() (jetstream.ObjectResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errClosed
	}
	if r.cur != nil {
		return r.cur, nil
	}
	if len(r.names) == 0 {
		return nil, io.EOF
	}
	obj, err := r.store.Get(r.ctx, r.names[0])
	if err != nil {
		return nil, fmt.Errorf("open export file %s: %w", r.names[0], err)
	}
	r.cur, r.names = obj, r.names[1:]
	return obj, nil
}

func (r *objectsReader) next() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != nil {
		r.cur.Close()
		r.cur = nil
	}
}

// Close stops the download; a Read blocked on the store returns.
func (r *objectsReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.cancel()
	if r.cur != nil {
		r.cur.Close()
		r.cur = nil
	}
	return nil
}

// gzipStream compresses src as it is read. A failure of src reaches the
// reader as an error, so the response is cut off rather than ended.
func gzipStream(src io.ReadCloser) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		zw := gzip.NewWriter(pw)
		_, err := io.Copy(zw, src)
		if err == nil {
			err = zw.Close()
		}
		src.Close()
		pw.CloseWithError(err) // nil: the reader sees io.EOF
	}()
	return &gzipReader{pr: pr, src: src}
}

type gzipReader struct {
	pr  *io.PipeReader
	src io.Closer
}

func (z *gzipReader) Read(p []byte) (int, error) { return z.pr.Read(p) }

// Close ends the compression early, when the client has gone.
func (z *gzipReader) Close() error {
	z.pr.CloseWithError(errClosed)
	return z.src.Close()
}
