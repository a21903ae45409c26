package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/nats-io/nats.go/jetstream"
)

// Object store internals (ADR-20): every chunk of an object is a message on
// $O.<bucket>.C.<nuid> in the stream OBJ_<bucket>.
const (
	objStreamPrefix = "OBJ_"
	// chunksInFlight bounds what a download holds in memory: this many
	// object chunks (128 KiB each by default) fetched ahead of the client.
	chunksInFlight = 4
	// chunkWait bounds the wait for one chunk: a server that sends nothing
	// for this long has lost the download.
	chunkWait = 30 * time.Second
)

// errClosed ends a download the HTTP server has given up on.
var errClosed = errors.New("download closed")

// objectsReader reads stored objects one after the other, each opened
// only when the previous one is done. A failure part-way is returned as an
// error, not EOF: the HTTP server then drops the connection instead of
// ending the body as if it were complete.
//
// It reads the chunks with an ordered pull consumer that keeps at most
// chunksInFlight chunks buffered, rather than with ObjectStore.Get, whose
// push subscription buffers as far ahead as flow control allows (measured:
// 116 MiB of heap for a 128 MiB object, against 43 MiB this way, most of
// it the embedded server's block cache).
type objectsReader struct {
	js jetstream.JetStream

	mu      sync.Mutex
	objects []*jetstream.ObjectInfo
	cur     *chunkReader
	closed  bool
}

func newObjectsReader(js jetstream.JetStream, objects []*jetstream.ObjectInfo) *objectsReader {
	return &objectsReader{js: js, objects: objects}
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
			return n, fmt.Errorf("read %s: %w", cur.info.Name, err)
		}
		return n, nil
	}
}

// current returns the object being read, opening the next one if needed,
// or io.EOF after the last.
func (r *objectsReader) current() (*chunkReader, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errClosed
	}
	if r.cur != nil {
		return r.cur, nil
	}
	if len(r.objects) == 0 {
		return nil, io.EOF
	}
	cur, err := openChunks(r.js, r.objects[0])
	if err != nil {
		return nil, err
	}
	r.cur, r.objects = cur, r.objects[1:]
	return cur, nil
}

func (r *objectsReader) next() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != nil {
		r.cur.Close()
		r.cur = nil
	}
}

// Close stops the download; a Read waiting for a chunk returns.
func (r *objectsReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.cur != nil {
		r.cur.Close()
		r.cur = nil
	}
	return nil
}

// chunkReader reads one object's chunks in order and checks its digest at
// the end.
type chunkReader struct {
	info   *jetstream.ObjectInfo
	it     jetstream.MessagesContext
	buf    []byte
	read   uint64
	digest hash.Hash
}

func openChunks(js jetstream.JetStream, info *jetstream.ObjectInfo) (*chunkReader, error) {
	r := &chunkReader{info: info, digest: sha256.New()}
	if info.Size == 0 {
		return r, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, objStreamPrefix+info.Bucket, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"$O." + info.Bucket + ".C." + info.NUID},
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", info.Name, err)
	}
	if r.it, err = cons.Messages(jetstream.PullMaxMessages(chunksInFlight)); err != nil {
		return nil, fmt.Errorf("open %s: %w", info.Name, err)
	}
	return r, nil
}

// Read implements io.Reader.
func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		if r.read >= r.info.Size {
			return 0, r.verify()
		}
		msg, err := r.it.Next(jetstream.NextMaxWait(chunkWait))
		if err != nil {
			return 0, err
		}
		r.buf = msg.Data()
		r.read += uint64(len(r.buf))
		r.digest.Write(r.buf)
		if r.read > r.info.Size {
			return 0, fmt.Errorf("%s has more bytes than its size %d", r.info.Name, r.info.Size)
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// verify checks the object's SHA-256 after its last byte: io.EOF when it
// matches.
func (r *chunkReader) verify() error {
	want, err := jetstream.DecodeObjectDigest(r.info.Digest)
	if err != nil {
		return fmt.Errorf("%s: %w", r.info.Name, err)
	}
	if got := r.digest.Sum(nil); string(got) != string(want) {
		return fmt.Errorf("%s: %w", r.info.Name, jetstream.ErrDigestMismatch)
	}
	return io.EOF
}

// Close stops fetching; a Next waiting for a chunk returns.
func (r *chunkReader) Close() {
	if r.it != nil {
		r.it.Stop()
	}
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
