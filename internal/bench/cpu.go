package bench

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// CPU is the processor time (user and system) that the NATS server and
// each exporter process used: it shows whether the machine's cores, not the
// way the work is split, bound an export.
type CPU struct {
	Server    time.Duration
	Exporters []time.Duration
}

func cpuOf(srv *exec.Cmd, exporters []*exec.Cmd) CPU {
	c := CPU{Server: procCPU(srv.Process.Pid)}
	for _, p := range exporters {
		c.Exporters = append(c.Exporters, procCPU(p.Process.Pid))
	}
	return c
}

// since returns the time used after start.
func (c CPU) since(start CPU) CPU {
	out := CPU{Server: c.Server - start.Server}
	for i, d := range c.Exporters {
		out.Exporters = append(out.Exporters, d-start.Exporters[i])
	}
	return out
}

func (c CPU) total() time.Duration {
	t := c.Server
	for _, d := range c.Exporters {
		t += d
	}
	return t
}

// clockTick is the unit of /proc/<pid>/stat times: USER_HZ, 100 on Linux.
const clockTick = 10 * time.Millisecond

// procCPU reads a process's user and system time (Linux); 0 elsewhere.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields after it.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * clockTick
}

// printCPU prints the processor time of a run's export and how many cores
// that kept busy on average.
func printCPU(out io.Writer, r Result) {
	var xs []string
	for _, d := range r.CPU.Exporters {
		xs = append(xs, fmt.Sprintf("%.1fs", d.Seconds()))
	}
	fmt.Fprintf(out, "  cpu during the export: server %.1fs, exporters %s: %.2f cores busy on average\n",
		r.CPU.Server.Seconds(), strings.Join(xs, " + "), r.CPU.total().Seconds()/r.ExportTime.Seconds())
}
