package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/edge/tlsca"
)

// tlsFlags are the TLS flags of `edge serve` that need parsing.
type tlsFlags struct{ mode, hosts string }

// addTLSFlags binds `edge serve`'s TLS flags to cfg; apply finishes them.
func addTLSFlags(e *env, cfg *edge.TLS) *tlsFlags {
	f := &tlsFlags{}
	e.String(&f.mode, "tls", "PANTRY_TLS", "off", "HTTPS and MQTT over TLS on the LAN: on (a certificate of the site CA, or --tls-cert) or off")
	e.String(&cfg.CertFile, "tls-cert", "PANTRY_TLS_CERT", "", "your own certificate chain (PEM, leaf first), reloaded when it changes (default: one of the site CA)")
	e.String(&cfg.KeyFile, "tls-key", "PANTRY_TLS_KEY", "", "the key of --tls-cert (PEM)")
	e.String(&f.hosts, "tls-hosts", "PANTRY_TLS_HOSTS", "", "more host names and IP addresses for the site CA's certificate, comma-separated (it always names this machine's)")
	e.String(&cfg.HTTPSAddr, "https", "PANTRY_HTTPS_ADDR", ":8443", "HTTPS listen address, with --tls on")
	e.Listen(&cfg.MQTTSAddr, "mqtts", "PANTRY_MQTTS_ADDR", ":8883", "MQTT over TLS listen address, with --tls on")
	e.Bool(&cfg.HTTPLanding, "http-landing", "PANTRY_HTTP_LANDING", false, "with --tls on, keep serving the attendee pages over plain HTTP for phones that do not trust the site CA (the staff app stays HTTPS-only)")
	return f
}

// apply checks the mode and splits the host list into cfg.
func (f *tlsFlags) apply(cfg *edge.TLS) error {
	switch strings.ToLower(f.mode) {
	case "on":
		cfg.On = true
	case "off", "":
		cfg.On = false
	default:
		return fmt.Errorf("--tls %q: say on or off", f.mode)
	}
	cfg.Hosts = splitList(f.hosts)
	return nil
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func newEdgeTLSCmd(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tls",
		Short: "The site CA, and the certificate HTTPS and MQTT over TLS are served with",
		Long: "Tablets need HTTPS for screen wake lock, service workers and sound. `pantry edge serve --tls on`\n" +
			"serves a certificate of the node's own site CA (made by `pantry edge init`, a demo start or\n" +
			"`pantry edge tls init`), renewed by itself; the organization's device management installs\n" +
			"the CA on the tablets (`pantry edge tls ca`). Or serve your own with --tls-cert and --tls-key.",
	}
	cmd.AddCommand(newEdgeTLSInitCmd(getenv, stdout), newEdgeTLSCACmd(getenv, stdout, stderr), newEdgeTLSStatusCmd(getenv, stdout))
	return cmd
}

// requireNodeDir refuses a directory that holds no edge node.
func requireNodeDir(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); err != nil {
		return fmt.Errorf("no edge node data in %s: pass --data with the node's data directory (`pantry edge init` makes one)", dir)
	}
	return nil
}

// caJSON is a site CA as the tls commands print it with --json.
type caJSON struct {
	Subject      string    `json:"subject"`
	SHA256       string    `json:"sha256"`
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
	PermittedDNS []string  `json:"permitted_dns"`
	File         string    `json:"file,omitempty"`
}

func caInfo(ca *tlsca.CA) caJSON {
	c := ca.Certificate()
	return caJSON{Subject: c.Subject.CommonName, SHA256: ca.Fingerprint(), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), PermittedDNS: c.PermittedDNSDomains}
}

func newEdgeTLSInitCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	var dir, domains string
	var replace, asJSON bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Make this node's site CA, if it has none",
		Long: "Make the node's site CA in DIR/tls, for a node enrolled before TLS support (`pantry edge init`\n" +
			"and a demo start make it already). Running it again changes nothing and shows the CA.\n\n" +
			"The CA may certify only DNS names under .local, .internal, home.arpa, localhost, the machine's\n" +
			"fully qualified host name and the domains given with --domain (a stolen key cannot impersonate\n" +
			"other sites to the tablets); any IP address. The domains are fixed when the CA is made:\n" +
			"--replace makes a new CA, which every tablet must then be given again.\n\n" +
			"Exit status: 0 when the CA exists (made now or before); 1 on an error (no node in --data,\n" +
			"--domain that the existing CA does not permit without --replace, a file that cannot be written).",
	}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	dataDir(e, &dir, "the node's data directory")
	e.String(&domains, "domain", "PANTRY_TLS_DOMAINS", "", "more DNS domains the CA may certify, comma-separated, e.g. pantry.example.com")
	cmd.Flags().BoolVar(&replace, "replace", false, "replace an existing CA (tablets must be given the new one)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the CA as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		if err := requireNodeDir(dir); err != nil {
			return err
		}
		opts := tlsca.CAOptions{Domains: splitList(domains)}
		ca, created, err := ensureOrReplaceCA(dir, opts, replace)
		if err != nil {
			return err
		}
		info := caInfo(ca)
		info.File = filepath.Join(tlsca.Dir(dir), "ca.crt")
		if asJSON {
			return json.NewEncoder(stdout).Encode(struct {
				Created bool `json:"created"`
				caJSON
			}{created, info})
		}
		verb := "Site CA already made"
		if created {
			verb = "Made a site CA"
		}
		fmt.Fprintf(stdout, "%s: %s\n  SHA-256  %s\n  valid    until %s\n  permits  %s and any IP address\n",
			verb, info.Subject, info.SHA256, info.NotAfter.Format(time.DateOnly), strings.Join(info.PermittedDNS, ", "))
		fmt.Fprintf(stdout, "Give it to the tablets with: pantry edge tls ca --data %s --out pantry-site-ca.crt\nthen serve with: pantry edge serve --data %s --tls on\n", dir, dir)
		return nil
	}
	return cmd
}

// ensureOrReplaceCA makes the CA when there is none or replace is set;
// otherwise it loads it and refuses domains it does not permit.
func ensureOrReplaceCA(dir string, opts tlsca.CAOptions, replace bool) (*tlsca.CA, bool, error) {
	if replace {
		ca, err := tlsca.CreateCA(dir, opts)
		return ca, err == nil, err
	}
	ca, created, err := tlsca.EnsureCA(dir, opts)
	if err != nil || created {
		return ca, created, err
	}
	for _, d := range opts.Domains {
		if !ca.Permits(d) {
			return nil, false, fmt.Errorf("the site CA exists and may not certify %q (it permits %s): pass --replace to make a new CA, which every tablet must then be given again",
				d, strings.Join(ca.Certificate().PermittedDNSDomains, ", "))
		}
	}
	return ca, false, nil
}

func newEdgeTLSCACmd(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	var dir, out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Print or write the site CA's certificate, for the tablets' device management",
		Long: "Print the site CA's certificate (PEM) on standard output and its SHA-256 fingerprint on standard\n" +
			"error, or write it to --out. Import it into the organization's device management as a trusted\n" +
			"root for the pantry tablets; compare the fingerprint the console shows. The key never leaves DIR.\n\n" +
			"Exit status: 0 when the certificate was printed or written; 1 when there is no site CA (make one\n" +
			"with `pantry edge tls init`) or --out cannot be written.",
	}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	dataDir(e, &dir, "the node's data directory")
	cmd.Flags().StringVar(&out, "out", "", "write the certificate to this file instead of standard output")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the certificate, its fingerprint and details as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		ca, err := tlsca.LoadCA(dir)
		if err != nil {
			return err
		}
		info := caInfo(ca)
		if out != "" {
			if err := os.WriteFile(out, ca.PEM(), 0o644); err != nil {
				return fmt.Errorf("write the CA certificate: %w", err)
			}
			info.File = out
		}
		switch {
		case asJSON:
			return json.NewEncoder(stdout).Encode(struct {
				PEM string `json:"pem"`
				caJSON
			}{string(ca.PEM()), info})
		case out != "":
			fmt.Fprintf(stdout, "Wrote %s (%s)\nSHA-256 fingerprint: %s\n", out, info.Subject, info.SHA256)
		default:
			if _, err := stdout.Write(ca.PEM()); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "SHA-256 fingerprint: %s\n", info.SHA256)
		}
		return nil
	}
	return cmd
}

// tlsStatus is what `pantry edge tls status --json` prints.
type tlsStatus struct {
	// Recorded is false when no node has started from DIR since TLS
	// support came: Serving is then empty.
	Recorded    bool          `json:"recorded"`
	Serving     tlsca.Serving `json:"serving"`
	Certificate *certStatus   `json:"certificate,omitempty"`
	CA          *caJSON       `json:"site_ca,omitempty"`
	Problems    []string      `json:"problems,omitempty"`
}

// certStatus is the certificate a node serves.
type certStatus struct {
	File           string    `json:"file"`
	Names          []string  `json:"names"`
	Issuer         string    `json:"issuer"`
	NotAfter       time.Time `json:"not_after"`
	DaysLeft       int       `json:"days_left"`
	IssuedBySiteCA bool      `json:"issued_by_site_ca"`
}

func newEdgeTLSStatusCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether TLS is on, the certificate served (names, expiry, issuer) and the site CA",
		Long: "Show how the node last started (read from DIR: its flags may live in a unit file), the certificate\n" +
			"it serves, whether it is the operator's (--tls-cert) or the site CA's, and the site CA.\n" +
			"A site CA certificate renews itself 30 days before it expires; an operator's is the operator's to renew.\n\n" +
			"Exit status: 0 when TLS is off, or on with a certificate that is valid now; 1 when the certificate\n" +
			"served has expired or cannot be read, or DIR holds no edge node.",
	}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	dataDir(e, &dir, "the node's data directory")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		if err := requireNodeDir(dir); err != nil {
			return err
		}
		st, err := readTLSStatus(dir, time.Now())
		if err != nil {
			return err
		}
		if asJSON {
			if err := json.NewEncoder(stdout).Encode(st); err != nil {
				return err
			}
		} else {
			printTLSStatus(stdout, st)
		}
		if len(st.Problems) > 0 {
			return errors.New(st.Problems[0])
		}
		return nil
	}
	return cmd
}

// readTLSStatus gathers the status from dir. Problems are what makes the
// command fail: a served certificate that cannot be read or has expired.
func readTLSStatus(dir string, now time.Time) (tlsStatus, error) {
	var st tlsStatus
	var err error
	if st.Serving, st.Recorded, err = tlsca.ReadServing(dir); err != nil {
		return st, err
	}
	ca, err := tlsca.LoadCA(dir)
	switch {
	case err == nil:
		info := caInfo(ca)
		info.File = filepath.Join(tlsca.Dir(dir), "ca.crt")
		st.CA = &info
	case !errors.Is(err, tlsca.ErrNoCA):
		return st, err
	}
	if !st.Serving.TLS {
		return st, nil
	}
	leaf, err := readCertFile(st.Serving.CertFile)
	if err != nil {
		st.Problems = append(st.Problems, fmt.Sprintf("the certificate the node serves (%s) cannot be read: %v", st.Serving.CertFile, err))
		return st, nil
	}
	st.Certificate = &certStatus{File: st.Serving.CertFile, Names: tlsca.CertNames(leaf), Issuer: leaf.Issuer.CommonName,
		NotAfter: leaf.NotAfter.UTC(), DaysLeft: int(leaf.NotAfter.Sub(now).Hours() / 24),
		IssuedBySiteCA: ca != nil && ca.Verify(leaf, leaf.NotBefore.Add(time.Minute)) == nil}
	if now.After(leaf.NotAfter) {
		st.Problems = append(st.Problems, fmt.Sprintf("the certificate the node serves expired on %s: %s", leaf.NotAfter.UTC().Format(time.DateOnly), renewHint(st)))
	}
	return st, nil
}

func renewHint(st tlsStatus) string {
	if st.Serving.Source == "operator" {
		return "replace " + st.Serving.CertFile + " and " + st.Serving.KeyFile + " (the node reloads them)"
	}
	return "start the node (it renews its certificate on start and while it runs)"
}

func readCertFile(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

func printTLSStatus(w io.Writer, st tlsStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	s := st.Serving
	switch {
	case !st.Recorded:
		fmt.Fprintf(tw, "tls\tunknown: no node has started from this directory since TLS support came\n")
	case !s.TLS:
		fmt.Fprintf(tw, "tls\toff (as the node started %s); turn it on with --tls on\n", s.StartedAt.Format(time.RFC3339))
	default:
		source := "a certificate of the site CA, renewed by the node"
		if s.Source == "operator" {
			source = "the operator's certificate (--tls-cert " + s.CertFile + ")"
		}
		fmt.Fprintf(tw, "tls\ton since %s, serving %s\n", s.StartedAt.Format(time.RFC3339), source)
		fmt.Fprintf(tw, "listeners\thttps %s, mqtts %s, wss %s, http %s\n", orNone(s.HTTPS), orNone(s.MQTTS), orNone(s.MQTTWS), plainHTTP(s))
	}
	if s.PublicURL != "" {
		fmt.Fprintf(tw, "public url\t%s (QR codes)\n", s.PublicURL)
	}
	if c := st.Certificate; c != nil {
		fmt.Fprintf(tw, "certificate\t%s\nnames\t%s\nissuer\t%s", c.File, strings.Join(c.Names, ", "), c.Issuer)
		if c.IssuedBySiteCA {
			fmt.Fprintf(tw, " (the site CA)")
		}
		fmt.Fprintf(tw, "\nexpires\t%s (in %d days)\n", c.NotAfter.Format(time.DateOnly), c.DaysLeft)
	}
	if ca := st.CA; ca != nil {
		fmt.Fprintf(tw, "site CA\t%s, valid until %s\n\tSHA-256 %s\n\tpermits %s and any IP address\n", ca.Subject, ca.NotAfter.Format(time.DateOnly), ca.SHA256, strings.Join(ca.PermittedDNS, ", "))
	} else {
		fmt.Fprintf(tw, "site CA\tnone: make one with `pantry edge tls init`\n")
	}
	for _, p := range st.Problems {
		fmt.Fprintf(tw, "problem\t%s\n", p)
	}
}

func orNone(addr string) string {
	if addr == "" {
		return "off"
	}
	return addr
}

func plainHTTP(s tlsca.Serving) string {
	switch {
	case s.HTTP == "":
		return "off"
	case s.HTTPLanding:
		return s.HTTP + " (attendee pages; the rest redirects to https)"
	}
	return s.HTTP + " (redirects to https)"
}

// printTLSHint tells the technician starting a node with the site CA's
// certificate how to give the CA to the tablets.
func printTLSHint(w io.Writer, dir string, n *edge.Node) {
	c := n.Certificate()
	if c == nil {
		return
	}
	ca, err := tlsca.LoadCA(dir)
	if err != nil || ca.Verify(c.Leaf, time.Now()) != nil {
		return // the operator's certificate
	}
	fmt.Fprintf(w, "HTTPS with the site CA (SHA-256 %s): tablets must trust it; export it with `pantry edge tls ca --data %s`\n", ca.Fingerprint(), dir)
}
