package main

import (
	"context"
	"errors"
	"io"
)

func runExporter(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("exporter: not implemented yet")
}
