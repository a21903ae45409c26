package main

import (
	"context"
	"errors"
	"io"
)

func runNotifier(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("notifier: not implemented yet")
}
