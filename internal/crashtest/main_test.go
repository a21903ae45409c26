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
// the one JETEXPORT_CRASHTEST_BIN names.
var binary string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if binary = os.Getenv("JETEXPORT_CRASHTEST_BIN"); binary != "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "crashtest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "crashtest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "jetexport")
	build := exec.Command("go", "build", "-o", binary, "github.com/jetexport/jetexport/cmd/jetexport")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "crashtest: build jetexport:", err)
		return 1
	}
	return m.Run()
}
