package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jetexport/jetexport/internal/natstest"
)

// proc is one jetexport process started by a test. Its stdout and stderr
// are kept, for the test to wait on lines and to show when it fails.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *output
	done chan struct{}
}

// output collects a process's stdout and stderr.
type output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// hermeticEnv is the test's environment without JETEXPORT_ settings, so a
// developer's shell cannot change what the processes do.
func hermeticEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "JETEXPORT_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// start starts `jetexport args...` with extra environment variables; the
// process is killed at cleanup, and its output logged if the test failed.
func start(tb testing.TB, name string, env []string, args ...string) *proc {
	tb.Helper()
	return startProgram(tb, binary, name, env, args...)
}

// startProgram starts program as start does.
func startProgram(tb testing.TB, program, name string, env []string, args ...string) *proc {
	tb.Helper()
	cmd := exec.Command(program, args...)
	cmd.Env = hermeticEnv(env...)
	p := &proc{name: name, cmd: cmd, out: &output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		if !tb.Failed() {
			p.kill()
			return
		}
		// A failed test shows where each live process of ours was: Go
		// prints every goroutine's stack on SIGQUIT. Only the stacks that
		// pass through jetexport's own code are kept.
		out, stacks := p.out.String(), ""
		if program == binary && !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
			}
			stacks = ownStacks(strings.TrimPrefix(p.out.String(), out))
		}
		p.kill()
		tb.Logf("--- output of %s (%s):\n%s%s", name, strings.Join(args, " "), tail(out, 40), stacks)
	})
	return p
}

// ownStacks keeps, of a goroutine dump, the goroutines that run jetexport's
// own code.
func ownStacks(dump string) string {
	var keep []string
	for _, g := range strings.Split(dump, "\n\n") {
		if strings.HasPrefix(g, "goroutine ") && strings.Contains(g, "jetexport/jetexport/") {
			keep = append(keep, g)
		}
	}
	if len(keep) == 0 {
		return ""
	}
	return "\n--- its goroutines in jetexport code at the failure:\n" + strings.Join(keep, "\n\n")
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL, as a crash would, and waits for the process to end.
func (p *proc) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}

// stop asks the process to shut down (SIGTERM) and waits up to 10 s for it,
// then kills it.
func (p *proc) stop(tb testing.TB) {
	tb.Helper()
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		tb.Errorf("%s did not stop within 10s of SIGTERM; killed", p.name)
		p.kill()
	}
}

// waitLine waits for an output line containing substr and returns it. It
// fails the test if the process exits first.
func (p *proc) waitLine(tb testing.TB, timeout time.Duration, substr string) string {
	tb.Helper()
	var line string
	natstest.Eventually(tb, timeout, p.name+" never printed "+substr, func() bool {
		for l := range strings.Lines(p.out.String()) {
			if strings.Contains(l, substr) {
				line = strings.TrimSpace(l)
				return true
			}
		}
		if p.exited() {
			tb.Fatalf("%s exited before printing %q:\n%s", p.name, substr, tail(p.out.String(), 40))
		}
		return false
	})
	return line
}

// logField returns the string field key of a JSON log line.
func logField(tb testing.TB, line, key string) string {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		tb.Fatalf("log line is not JSON: %q", line)
	}
	v, _ := m[key].(string)
	if v == "" {
		tb.Fatalf("log line has no %s: %q", key, line)
	}
	return v
}

// runCmd runs `jetexport args...` to its end and returns its stdout.
func runCmd(tb testing.TB, timeout time.Duration, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = hermeticEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("jetexport %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}
