package loader

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// responseBundle is the part of a batch- or transaction-response the
// loader reads.
type responseBundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		Response struct {
			Status   string          `json:"status"`
			Location string          `json:"location"`
			Outcome  json.RawMessage `json:"outcome"`
		} `json:"response"`
	} `json:"entry"`
}

// bundleAnswer records the per-entry outcome of a Bundle request that the
// gateway answered with 2xx.
func (r *run) bundleAnswer(req request, body []byte) {
	var rb responseBundle
	if err := json.Unmarshal(body, &rb); err != nil || rb.ResourceType != "Bundle" {
		what := fmt.Sprintf("%d bytes", len(body))
		if len(body) == 0 {
			what = "an empty body"
		}
		r.failed(req, len(req.entries), fmt.Sprintf("the gateway answered 2xx with %s, not a batch- or transaction-response Bundle", what))
		return
	}
	if len(rb.Entry) != len(req.entries) {
		r.failed(req, len(req.entries), fmt.Sprintf("the response Bundle has %d entries for %d sent", len(rb.Entry), len(req.entries)))
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Requests++
	for i, e := range rb.Entry {
		typ := req.entries[i].typ
		if typ == "" { // a DELETE without a type in our copy: read it off the location
			typ, _, _ = strings.Cut(e.Response.Location, "/")
		}
		if entryOK(e.Response.Status) {
			r.stats.Resources++
			r.stats.PerType[typ]++
			continue
		}
		r.stats.Failed++
		msg := strings.TrimSpace(e.Response.Status)
		if len(e.Response.Outcome) > 0 {
			var a answer
			if json.Unmarshal(e.Response.Outcome, &a) == nil {
				if _, m := outcomeMessage(&a); m != "" {
					msg += ": " + m
				}
			}
		}
		r.note(fmt.Sprintf("%s: entry %d (%s): %s", req.label, i, req.entries[i].ref(), msg))
	}
	r.progress.Add(len(req.entries))
}

// entryOK reports whether a Bundle entry's response.status ("201
// Created", "200 OK", "204") is a 2xx.
func entryOK(status string) bool {
	code, _, _ := strings.Cut(strings.TrimSpace(status), " ")
	n, err := strconv.Atoi(code)
	return err == nil && n >= 200 && n < 300
}
