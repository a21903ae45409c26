package fhirstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/jetexport/jetexport/internal/fhir"
)

// recordState is what a write needs to know about a key: the stream
// sequence of its last message (0 when it has none), the version that
// message holds, and whether it is a live value or a delete marker.
type recordState struct {
	rev     uint64
	version int
	live    bool
}

// stateOf reads a key's state from its last message.
func stateOf(m *jetstream.RawStreamMsg) recordState {
	st := recordState{rev: m.Sequence, live: m.Header.Get(kvOperation) == ""}
	if v, err := strconv.Atoi(m.Header.Get(VersionHeader)); err == nil {
		st.version = v
	} else if st.live {
		// Written without the header (by another tool): read the JSON.
		v, _ := fhir.Meta(m.Data)
		st.version, _ = strconv.Atoi(v)
	}
	return st
}

// streamHandle returns the bucket's stream, looked up once.
func (s *Store) streamHandle(ctx context.Context) (jetstream.Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.str == nil {
		str, err := s.js.Stream(ctx, s.stream)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", s.stream, err)
		}
		s.str = str
	}
	return s.str, nil
}

// last returns the last message of key, a value or a delete marker, or nil
// when the key has none.
func (s *Store) last(ctx context.Context, key string) (*jetstream.RawStreamMsg, error) {
	str, err := s.streamHandle(ctx)
	if err != nil {
		return nil, err
	}
	m, err := str.GetLastMsgForSubject(ctx, s.prefix+key)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return m, nil
}

// state returns the state of one key.
func (s *Store) state(ctx context.Context, key string) (recordState, error) {
	m, err := s.last(ctx, key)
	if err != nil || m == nil {
		return recordState{}, err
	}
	return stateOf(m), nil
}

// states returns the state of many keys with batched direct gets
// (multi_last), up to multiLastLimit subjects a request. Keys without a
// message are absent from the map.
func (s *Store) states(ctx context.Context, keys []string) (map[string]recordState, error) {
	out := make(map[string]recordState, len(keys))
	pending := make([]string, len(keys))
	for i, k := range keys {
		pending[i] = s.prefix + k
	}
	for len(pending) > 0 {
		chunk := pending[:min(len(pending), multiLastLimit)]
		got, more, err := s.statesOnce(ctx, chunk, out)
		if err != nil {
			return nil, err
		}
		if !more {
			pending = pending[len(chunk):]
			continue
		}
		// The server stopped at its byte limit: ask again for the rest.
		if got == 0 {
			return nil, fmt.Errorf("read %d records: the server answered none of a batched get", len(chunk))
		}
		rest := pending[len(chunk):]
		pending = pending[:0:0]
		for _, subj := range chunk {
			if _, ok := out[subj[len(s.prefix):]]; !ok {
				pending = append(pending, subj)
			}
		}
		pending = append(pending, rest...)
	}
	return out, nil
}

// statesOnce asks once for the last messages of subjects, adding what it
// learns to out. more reports that the server stopped before the end.
func (s *Store) statesOnce(ctx context.Context, subjects []string, out map[string]recordState) (got int, more bool, err error) {
	msgs, err := jetstreamext.GetLastMsgsFor(ctx, s.js, s.stream, subjects)
	if err != nil {
		return 0, false, fmt.Errorf("read %d records: %w", len(subjects), err)
	}
	for m, err := range msgs {
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			break
		}
		if err != nil {
			return got, false, fmt.Errorf("read %d records: %w", len(subjects), err)
		}
		got++
		out[m.Subject[len(s.prefix):]] = stateOf(m)
		more = m.Header.Get("Nats-Num-Pending") != "0"
	}
	return got, more, nil
}
