package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/jetexport/jetexport/internal/bench"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr)
	sizes := fs.String("resources", "100000,1000000", "comma list of how many synthetic resources to load and export (about 1 KiB each)")
	exporters := fs.String("exporters", "1", "comma list of how many exporter processes share the export")
	seed := fs.Int64("seed", 1, "synthetic data seed")
	part := fs.Int("part-max-resources", 100_000, "resources per NDJSON part")
	dir := fs.String("dir", "", "directory for the server's store (default a temporary one)")
	tasks := fs.Int("task-resources", 0, "the exporters' --task-resources: records per task, each a pass over the records (default the exporter's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	cfg := bench.Config{Binary: bin, Seed: *seed, PartMaxResources: *part, TaskResources: *tasks, Dir: *dir, Out: stdout}
	if cfg.Sizes, err = ints(*sizes); err != nil {
		return fmt.Errorf("--resources: %w", err)
	}
	if cfg.Exporters, err = ints(*exporters); err != nil {
		return fmt.Errorf("--exporters: %w", err)
	}
	_, err = bench.Run(ctx, cfg)
	return err
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}
