// Package natsserver runs an embedded NATS server with JetStream on disk. It
// is the only package of jetexport that imports nats-server: every service
// talks to NATS through a client connection, so the same services run
// against an external server or cluster unchanged.
package natsserver

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config says how to run the embedded server.
type Config struct {
	// Listen is host:port for NATS clients. Port 0 or -1 picks a free port.
	// Empty turns the listener off (in-process clients only).
	Listen string
	// StoreDir is where JetStream keeps its files.
	StoreDir string
	// SyncAlways makes the server fsync every write before acknowledging
	// it, so an acknowledged write survives power loss (slower). By default
	// the server syncs every SyncInterval (2 minutes when zero).
	SyncAlways   bool
	SyncInterval time.Duration
	// MaxBatchSize caps an atomic batch publish (a FHIR transaction Bundle
	// applied all or nothing). Zero means 10,000.
	MaxBatchSize int
	// Name names the server; cluster members need distinct names.
	Name string
	// Cluster, when set, makes the server a member of a JetStream cluster.
	Cluster *Cluster
}

// Cluster says how the server joins a cluster of embedded servers.
type Cluster struct {
	Name   string
	Listen string   // host:port for routes
	Routes []string // nats-route://host:port of the other members
}

// Server is a running embedded server.
type Server struct {
	srv *server.Server
}

// DefaultMaxBatchSize is the atomic batch limit used when Config leaves it zero.
const DefaultMaxBatchSize = 10000

// Start starts the server and waits until it accepts clients.
func Start(cfg Config) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("start nats: a store directory is required")
	}
	opts := &server.Options{
		ServerName:   cfg.Name,
		JetStream:    true,
		StoreDir:     cfg.StoreDir,
		NoSigs:       true,
		SyncAlways:   cfg.SyncAlways,
		SyncInterval: cfg.SyncInterval,
	}
	opts.JetStreamLimits.MaxBatchSize = cfg.MaxBatchSize
	if opts.JetStreamLimits.MaxBatchSize == 0 {
		opts.JetStreamLimits.MaxBatchSize = DefaultMaxBatchSize
	}
	if cfg.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("start nats: listen address: %w", err)
		}
		opts.Host, opts.Port = host, port
	}
	if c := cfg.Cluster; c != nil {
		host, port, err := splitHostPort(c.Listen)
		if err != nil {
			return nil, fmt.Errorf("start nats: cluster address: %w", err)
		}
		opts.Cluster.Name, opts.Cluster.Host, opts.Cluster.Port = c.Name, host, port
		opts.Routes = server.RoutesFromStr(strings.Join(c.Routes, ","))
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("start nats: not ready for connections after 30s")
	}
	return &Server{srv: srv}, nil
}

// ClientURL returns the URL clients connect to (an in-process URL when the
// listener is off).
func (s *Server) ClientURL() string { return s.srv.ClientURL() }

// InProcess returns the server as a connection provider for nats.InProcessServer.
func (s *Server) InProcess() *server.Server { return s.srv }

// ClusterAddr returns the address the server accepts routes on, if clustered.
func (s *Server) ClusterAddr() net.Addr { return s.srv.ClusterAddr() }

// Shutdown stops the server and waits for it to finish.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	if port == 0 {
		port = -1 // nats-server's "pick a free port"
	}
	return host, port, nil
}
