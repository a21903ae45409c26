package loader

import (
	"context"
	"fmt"

	"github.com/jetexport/jetexport/internal/synthetic"
)

// LoadSynthetic generates patients synthetic patients of seed (see package
// synthetic) and loads them as batch Bundles of BatchSize PUT entries.
// Loading the same seed twice upserts the same records.
func (l *Loader) LoadSynthetic(ctx context.Context, seed int64, patients int, progress Progress) (Stats, error) {
	if patients < 0 {
		return Stats{}, fmt.Errorf("load synthetic: %d patients: must not be negative", patients)
	}
	r := l.newRun(progress)
	r.progress.Start(synthetic.Count(seed, patients))
	return r.execute(ctx, func(ctx context.Context, send func(request) error) error {
		bt := newBatcher(l, func(first, last int) string {
			return fmt.Sprintf("synthetic seed %d resources %d-%d", seed, first, last)
		}, send)
		n := 0
		err := synthetic.Stream(seed, patients, func(res synthetic.Resource) error {
			n++
			return bt.add(entry{typ: res.Type, id: res.ID}, res.JSON, n)
		})
		if err != nil {
			return err
		}
		return bt.flush()
	})
}
