package main

import (
	"context"
	"errors"
	"io"
)

func runGateway(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("gateway: not implemented yet")
}
