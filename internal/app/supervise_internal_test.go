package app

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetexport/jetexport/internal/natstest"
)

// A service that fails (as one does when its consumer cannot be created
// while the cluster elects leaders) is started again, and the system keeps
// running; it stops only when the system does.
func TestSupervisedServiceStartsAgain(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &System{restartAfter: time.Millisecond, cancel: cancel}
	var starts atomic.Int64
	s.supervise(ctx, "flaky", func(ctx context.Context) error {
		if starts.Add(1) <= 3 {
			return errors.New("consumer: context deadline exceeded")
		}
		<-ctx.Done()
		return nil
	})
	natstest.Eventually(t, 10*time.Second, "the service was not started again after failing",
		func() bool { return starts.Load() == 4 })
	if ctx.Err() != nil {
		t.Fatal("a failed service stopped the system")
	}
	cancel()
	s.wg.Wait()
	if s.err != nil {
		t.Errorf("the system recorded %v", s.err)
	}
}
