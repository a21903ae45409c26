package crashtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binary is the jetexport program every test starts, built once by TestMain
// (without -race: the processes are what is tested, not instrumented), or
// the one JETEXPORT_CRASHTEST_BIN names. natsnode runs one embedded NATS
// server per process, for the cluster test.
var binary, natsnode string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "crashtest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "crashtest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	natsnode = filepath.Join(dir, "natsnode")
	if err := build(natsnode, "github.com/jetexport/jetexport/internal/crashtest/natsnode"); err != nil {
		fmt.Fprintln(os.Stderr, "crashtest: build natsnode:", err)
		return 1
	}
	if binary = os.Getenv("JETEXPORT_CRASHTEST_BIN"); binary == "" {
		binary = filepath.Join(dir, "jetexport")
		if err := build(binary, "github.com/jetexport/jetexport/cmd/jetexport"); err != nil {
			fmt.Fprintln(os.Stderr, "crashtest: build jetexport:", err)
			return 1
		}
	}
	return m.Run()
}

func build(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}
