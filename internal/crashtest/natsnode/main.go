// Command natsnode runs one embedded NATS server (internal/natsserver) as a
// process of its own, so that crashtest's cluster test can SIGKILL a
// cluster member and start it again from its store. It prints
// "natsnode ready <client URL>" once the server accepts clients and shuts
// the server down on SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/jetexport/jetexport/internal/natsserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsnode:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("natsnode", flag.ContinueOnError)
	name := fs.String("name", "", "server name (cluster members need distinct names)")
	store := fs.String("store", "", "JetStream store directory")
	listen := fs.String("listen", "127.0.0.1:0", "client address")
	cluster := fs.String("cluster-name", "", "cluster to join")
	clusterListen := fs.String("cluster-listen", "", "route address")
	routes := fs.String("routes", "", "comma-separated nats-route:// URLs of the other members")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *store == "" {
		return errors.New("--store is required")
	}
	cfg := natsserver.Config{Name: *name, StoreDir: *store, Listen: *listen}
	if *cluster != "" {
		cfg.Cluster = &natsserver.Cluster{Name: *cluster, Listen: *clusterListen, Routes: strings.Split(*routes, ",")}
	}
	srv, err := natsserver.Start(cfg)
	if err != nil {
		return err
	}
	fmt.Printf("natsnode ready %s\n", srv.ClientURL())
	<-ctx.Done()
	srv.Shutdown()
	return nil
}
