package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/broker"
	"github.com/jetexport/jetexport/internal/smart"
)

const clientsUsage = `usage:
  jetexport clients keygen --private FILE --jwks FILE [--alg ES384|RS384]
  jetexport clients register --tenant NAME [--live] (--jwks FILE | --jwks-url URL) [--scope SCOPES] [--name TEXT] [--nats-url URL]
  jetexport clients list [--tenant NAME] [--nats-url URL]
  jetexport clients revoke CLIENT_ID [--nats-url URL]
  jetexport clients token --client-id ID --private FILE [--scope SCOPES] [--url URL]`

// runClients manages SMART Backend Services clients of the FHIR Bulk Data
// door: keygen makes a key pair, register/list/revoke work directly on the
// clients bucket of the NATS server at --nats-url, and token gets an access
// token from a gateway the way a backend client does.
func runClients(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, clientsUsage)
		if len(args) == 0 {
			return errors.New("clients: keygen, register, list, revoke or token is required")
		}
		return nil
	}
	switch sub := args[0]; sub {
	case "keygen":
		return clientsKeygen(args[1:], stdout, stderr)
	case "register", "list", "revoke":
		return clientsRegistry(ctx, sub, args[1:], stdout, stderr)
	case "token":
		return clientsToken(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintln(stderr, clientsUsage)
		return fmt.Errorf("clients: unknown subcommand %q", sub)
	}
}

// clientsKeygen writes a new private JWK and the JWKS of its public half.
func clientsKeygen(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("clients keygen", stderr)
	alg := fs.String("alg", "ES384", "signing algorithm: ES384 (EC P-384) or RS384 (RSA 3072)")
	private := fs.String("private", "", "file to write the private JWK to (required; keep it secret)")
	jwks := fs.String("jwks", "", "file to write the public JWKS to (required; register this one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *private == "" || *jwks == "" || fs.NArg() > 0 {
		return errors.New("clients keygen: --private and --jwks are required")
	}
	kp, err := smart.GenerateKey(*alg)
	if err != nil {
		return fmt.Errorf("clients keygen: %w", err)
	}
	if err := writeNew(*private, kp.PrivateJWK, 0o600); err != nil {
		return fmt.Errorf("clients keygen: %w", err)
	}
	if err := writeNew(*jwks, kp.PublicJWKS, 0o644); err != nil {
		return fmt.Errorf("clients keygen: %w", err)
	}
	fmt.Fprintln(stdout, kp.KeyID)
	fmt.Fprintf(stderr, "%s key %s: private JWK in %s, public JWKS in %s\n", *alg, kp.KeyID, *private, *jwks)
	return nil
}

// writeNew writes b to a file that must not exist yet: a key is never
// overwritten by mistake.
func writeNew(path string, b []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// clientsRegistry registers, lists and revokes clients in the bucket.
func clientsRegistry(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("clients "+sub, stderr)
	natsURL := fs.String("nats-url", env("nats-url", "nats://127.0.0.1:4222"), "NATS server URL")
	tenant := fs.String("tenant", "", "customer the client belongs to")
	var live *bool
	var jwksFile, jwksURL, scope, name *string
	if sub == "register" {
		live = fs.Bool("live", false, "register for the customer's live data instead of its test data")
		jwksFile = fs.String("jwks", "", "file holding the client's public JWKS")
		jwksURL = fs.String("jwks-url", "", "URL serving the client's public JWKS, fetched when it asks for a token")
		scope = fs.String("scope", "system/*.read", "space-separated read scopes the client may ask for")
		name = fs.String("name", "", "a label shown by clients list")
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	switch {
	case sub == "revoke" && len(pos) != 1:
		return errors.New("clients revoke: give exactly one CLIENT_ID (see clients list)")
	case sub != "revoke" && len(pos) > 0:
		return fmt.Errorf("clients %s: unexpected argument %q", sub, pos[0])
	case sub == "register" && *tenant == "":
		return errors.New("clients register: --tenant is required")
	case *tenant != "" && !events.ValidCustomer(*tenant):
		return fmt.Errorf("clients %s: tenant %q: use lower-case letters, digits and hyphens, at most 40", sub, *tenant)
	case sub == "register" && (*jwksFile == "") == (*jwksURL == ""):
		return errors.New("clients register: give the public keys with --jwks FILE or --jwks-url URL (one of them)")
	}
	var reg smart.Registration
	if sub == "register" {
		mode := events.ModeTest
		if *live {
			mode = events.ModeLive
		}
		reg = smart.Registration{Tenant: events.TenantOf(*tenant, mode), Name: *name, Scope: *scope, JWKSURL: *jwksURL}
		if *jwksFile != "" {
			if reg.JWKS, err = os.ReadFile(*jwksFile); err != nil {
				return fmt.Errorf("clients register: %w", err)
			}
		}
	}
	registry, closeConn, err := openClients(ctx, *natsURL)
	if err != nil {
		return err
	}
	defer closeConn()
	switch sub {
	case "register":
		c, err := registry.Register(ctx, reg)
		if err != nil {
			return fmt.Errorf("clients register: %w", err)
		}
		fmt.Fprintln(stdout, c.ID)
		fmt.Fprintf(stderr, "client %s for tenant %s may ask for %q; its token endpoint is <gateway URL>/auth/token\n", c.ID, c.Tenant, c.Scope)
		return nil
	case "list":
		list, err := registry.List(ctx, "")
		if err != nil {
			return fmt.Errorf("clients list: %w", err)
		}
		printClients(stdout, list, *tenant)
		return nil
	default:
		c, err := registry.Revoke(ctx, "", pos[0])
		if errors.Is(err, smart.ErrUnknownClient) {
			return fmt.Errorf("clients revoke: no client has id %q (see clients list)", pos[0])
		}
		if err != nil {
			return fmt.Errorf("clients revoke: %w", err)
		}
		fmt.Fprintf(stdout, "revoked %s of tenant %s\n", c.ID, c.Tenant)
		return nil
	}
}

// openClients connects to NATS and returns the client registry and a func
// closing the connection. It changes no bucket: a gateway creates them.
func openClients(ctx context.Context, natsURL string) (*smart.Registry, func(), error) {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	nc, js, err := broker.Connect(cctx, natsURL, "jetexport clients", nats.MaxReconnects(0))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach NATS at %s; is `jetexport serve` running? (%w)", natsURL, err)
	}
	sctx, cancel2 := context.WithTimeout(ctx, 10*time.Second)
	defer cancel2()
	stores, err := smart.Open(sctx, js)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("open jetexport at %s: %w", natsURL, err)
	}
	return smart.NewRegistry(stores.Clients, nil), nc.Close, nil
}

func printClients(w io.Writer, list []smart.Client, customer string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTENANT\tSCOPE\tKEYS\tNAME\tCREATED\tREVOKED")
	for _, c := range list {
		if customer != "" && c.Tenant.Customer() != customer {
			continue
		}
		keys := strings.Join(c.KeyIDs(), ",")
		if c.JWKSURL != "" {
			keys = c.JWKSURL
		}
		revoked, name := "-", c.Name
		if c.RevokedAt != nil {
			revoked = c.RevokedAt.Format(time.RFC3339)
		}
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Tenant, c.Scope, keys, name, c.CreatedAt.Format(time.RFC3339), revoked)
	}
	tw.Flush()
}

// clientsToken gets an access token as a backend client does: a signed
// assertion posted to the gateway's token endpoint.
func clientsToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("clients token", stderr)
	base := fs.String("url", env("url", "http://127.0.0.1:8080"), "gateway base URL")
	clientID := fs.String("client-id", "", "the client's id (required)")
	private := fs.String("private", "", "file holding the client's private JWK (required)")
	scope := fs.String("scope", "system/*.rs", "scopes to ask for")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *clientID == "" || *private == "" || fs.NArg() > 0 {
		return errors.New("clients token: --client-id and --private are required")
	}
	jwk, err := os.ReadFile(*private)
	if err != nil {
		return fmt.Errorf("clients token: %w", err)
	}
	tokenURL := strings.TrimRight(*base, "/") + "/auth/token"
	assertion, err := smart.NewAssertion(jwk, *clientID, tokenURL, time.Now())
	if err != nil {
		return fmt.Errorf("clients token: %w", err)
	}
	form := url.Values{"grant_type": {smart.GrantClientCredentials}, "scope": {*scope},
		"client_assertion_type": {smart.AssertionTypeJWTBearer}, "client_assertion": {assertion}}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("clients token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("clients token: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		smart.Token
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return fmt.Errorf("clients token: %s answered %d, not OAuth JSON: %w", tokenURL, resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("clients token: %s: %s", out.Error, out.Description)
	}
	fmt.Fprintln(stdout, out.AccessToken)
	fmt.Fprintf(stderr, "bearer token for %q, valid %ds\n", out.Scope, out.ExpiresIn)
	return nil
}
