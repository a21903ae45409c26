package main

import (
	"context"
	"errors"
	"io"
)

func runWebhooks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("webhooks: not implemented yet")
}
