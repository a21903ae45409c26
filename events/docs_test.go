package events_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetexport/jetexport/events"
)

// TestDocsListEveryName keeps docs/events.md in step with the vocabulary:
// every event type has a section, a row in the catalogue and one in the
// Nats-Msg-Id table, and every stream, bucket and object store is named.
func TestDocsListEveryName(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "events.md"))
	if err != nil {
		t.Fatalf("read docs/events.md: %v", err)
	}
	doc := string(b)
	var want []string
	for _, k := range events.Kinds() {
		want = append(want, "### `"+k.Type()+"` (`"+string(k)+"`)", // its section
			"| `"+k.Type()+"` | `"+string(k)+"` |",   // the catalogue table
			"| `"+k.Type()+"` | `<jobId>/"+string(k)) // the Nats-Msg-Id table
	}
	for _, name := range []string{events.StreamBulk, events.BucketJobs, events.BucketFHIR, events.BucketAPIKeys,
		events.BucketWebhooks, events.BucketSigning, events.ObjectStoreExports} {
		want = append(want, "`"+name+"`")
	}
	for _, w := range want {
		if !strings.Contains(doc, w) {
			t.Errorf("docs/events.md does not contain %s", w)
		}
	}
}
