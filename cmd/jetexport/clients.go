package main

import (
	"context"
	"errors"
	"io"
)

func runClients(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("clients: not implemented yet")
}
