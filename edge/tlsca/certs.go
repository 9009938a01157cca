package tlsca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Certs is the certificate a server presents, which may change while it
// runs: servers take it through GetCertificate (ServerConfig), so a
// renewed or reloaded certificate is served from the next handshake on,
// with no restart. Refresh, or Keep in the background, changes it.
type Certs struct {
	mu     sync.Mutex // serialises Refresh
	cur    atomic.Pointer[tls.Certificate]
	source source
}

// source is where a Certs' certificate comes from: the site CA or the
// operator's files.
type source interface {
	// refresh returns a new certificate and why it replaces cur (nil cur:
	// there is none yet), or nil and "" if cur is still right.
	refresh(now time.Time, cur *tls.Certificate) (*tls.Certificate, string, error)
	info() Info
}

// Info says where a Certs' certificate comes from.
type Info struct {
	// Source is "site-ca" or "operator".
	Source string
	// CertFile and KeyFile are the files it is read from.
	CertFile, KeyFile string
}

// SiteOptions configure SiteCerts.
type SiteOptions struct {
	// Hosts are extra names and addresses for the leaf (--tls-hosts).
	Hosts Names
	// Hostname is the machine's host name (default os.Hostname).
	Hostname func() (string, error)
	// Addrs lists the machine's LAN addresses (default MachineAddrs).
	Addrs func() ([]net.IP, error)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// SiteCerts serves a leaf of the site CA of dataDir (see EnsureCA): the
// one on disk if it is still good for the machine's names, else a new one,
// saved. A name in opts.Hosts the CA may not certify is an error that says
// what to do.
func SiteCerts(dataDir string, opts SiteOptions) (*Certs, error) {
	if opts.Hostname == nil {
		opts.Hostname = os.Hostname
	}
	if opts.Addrs == nil {
		opts.Addrs = MachineAddrs
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ca, err := LoadCA(dataDir)
	if err != nil {
		return nil, err
	}
	for _, d := range opts.Hosts.DNS {
		if !ca.Permits(d) {
			return nil, fmt.Errorf("--tls-hosts name %q is outside the domains the site CA may certify (%s): make a CA that permits it with `pantry edge tls init --replace --domain DOMAIN` and give it to the tablets again, or serve your own certificate with --tls-cert and --tls-key",
				d, strings.Join(ca.cert.PermittedDNSDomains, ", "))
		}
	}
	s := &site{dataDir: dataDir, dir: Dir(dataDir), ca: ca, opts: opts}
	return newCerts(s, opts.Now())
}

// FileCerts serves the operator's certificate (a PEM chain, leaf first)
// and key, reloaded by Refresh when either file changes. A pair that does
// not match, a certificate that is not valid now or not for servers is an
// error that says which.
func FileCerts(certFile, keyFile string, now time.Time) (*Certs, error) {
	return newCerts(&files{cert: certFile, key: keyFile}, now)
}

func newCerts(s source, now time.Time) (*Certs, error) {
	c := &Certs{source: s}
	cert, _, err := s.refresh(now, nil)
	if err != nil {
		return nil, err
	}
	c.cur.Store(cert)
	return c, nil
}

// GetCertificate is for tls.Config: the current certificate.
func (c *Certs) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// Leaf is the current certificate, parsed.
func (c *Certs) Leaf() *x509.Certificate { return c.cur.Load().Leaf }

// Info says where the certificate comes from.
func (c *Certs) Info() Info { return c.source.info() }

// ServerConfig is a TLS server configuration presenting the current
// certificate, offering nextProtos by ALPN (e.g. "http/1.1").
func (c *Certs) ServerConfig(nextProtos ...string) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate, NextProtos: nextProtos}
}

// Refresh renews or reloads the certificate if it needs it and says why
// it did ("" if it did not). On error the current certificate stays.
func (c *Certs) Refresh(now time.Time) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cert, why, err := c.source.refresh(now, c.cur.Load())
	if err != nil || cert == nil {
		return "", err
	}
	c.cur.Store(cert)
	return why, nil
}

// Keep refreshes the certificate every interval until ctx ends, logging
// each change and each failure; it warns, at most daily, while the
// certificate expires within RenewBefore (an operator's certificate is
// the operator's to renew).
func (c *Certs) Keep(ctx context.Context, every time.Duration, now func() time.Time, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	var warned time.Time
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		at := now()
		why, err := c.Refresh(at)
		leaf := c.Leaf()
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		switch {
		case err != nil && msg != lastErr: // once per distinct failure, not every interval
			log.Error("TLS certificate not renewed; still serving the current one", "err", err, "expires", leaf.NotAfter)
		case err == nil && why != "":
			log.Info("TLS certificate renewed", "why", why, "names", certNames(leaf), "expires", leaf.NotAfter)
		}
		lastErr = msg
		if left := leaf.NotAfter.Sub(at); left < RenewBefore && at.Sub(warned) > 24*time.Hour {
			warned = at
			log.Warn("TLS certificate expires soon", "expires", leaf.NotAfter, "source", c.Info().Source, "file", c.Info().CertFile)
		}
	}
}

// certNames lists a certificate's names for a log line or a status.
func certNames(cert *x509.Certificate) []string {
	out := slices.Clone(cert.DNSNames)
	for _, ip := range cert.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

// CertNames lists a certificate's DNS names and IP addresses.
func CertNames(cert *x509.Certificate) []string { return certNames(cert) }

// site issues leaves from the site CA and keeps them in DIR/tls.
type site struct {
	dataDir, dir string
	ca           *CA
	opts         SiteOptions
}

func (s *site) info() Info {
	return Info{Source: "site-ca", CertFile: filepath.Join(s.dir, leafCertFile), KeyFile: filepath.Join(s.dir, leafKeyFile)}
}

func (s *site) refresh(now time.Time, cur *tls.Certificate) (*tls.Certificate, string, error) {
	// A CA replaced with `pantry edge tls init --replace` takes over
	// without a restart: the current leaf is then not valid under it.
	ca, err := LoadCA(s.dataDir)
	if err != nil {
		return nil, "", err
	}
	if !ca.cert.Equal(s.ca.cert) {
		s.ca = ca
	}
	names, err := s.names()
	if err != nil {
		return nil, "", err
	}
	starting := cur == nil
	if starting {
		if pair, err := tls.LoadX509KeyPair(filepath.Join(s.dir, leafCertFile), filepath.Join(s.dir, leafKeyFile)); err == nil {
			cur = &pair
		}
	}
	why := s.stale(cur, names, now)
	switch {
	case why == "" && starting:
		return cur, "", nil // the leaf on disk is still good
	case why == "":
		return nil, "", nil
	}
	leaf, err := s.ca.Issue(names, now)
	if err != nil {
		return nil, "", err
	}
	certPEM, keyPEM, err := encodeLeaf(leaf)
	if err != nil {
		return nil, "", err
	}
	// Key first, then certificate: a crash between the two leaves a
	// mismatched pair, which the next start replaces.
	if err := writeFileAtomic(filepath.Join(s.dir, leafKeyFile), keyPEM, 0o600); err != nil {
		return nil, "", err
	}
	if err := writeFileAtomic(filepath.Join(s.dir, leafCertFile), certPEM, 0o644); err != nil {
		return nil, "", err
	}
	return leaf, why, nil
}

// stale says why cur cannot go on being served, or "".
func (s *site) stale(cur *tls.Certificate, names Names, now time.Time) string {
	if cur == nil {
		return "no certificate yet"
	}
	if err := s.ca.Verify(cur.Leaf, now); err != nil {
		return "not valid under this site CA: " + err.Error()
	}
	switch {
	case now.After(cur.Leaf.NotAfter.Add(-RenewBefore)):
		return "expires on " + cur.Leaf.NotAfter.UTC().Format(time.DateOnly)
	}
	if missing := names.Missing(cur.Leaf); len(missing) > 0 {
		return "does not name " + strings.Join(missing, ", ")
	}
	return ""
}

// names are what the leaf must name now: the machine's, those the CA may
// certify (a host name outside its domains is left out), and the
// operator's, checked by SiteCerts.
func (s *site) names() (Names, error) {
	host, err := s.opts.Hostname()
	if err != nil {
		host = ""
	}
	addrs, err := s.opts.Addrs()
	if err != nil {
		return Names{}, err
	}
	n := LocalNames(host, addrs, s.opts.Hosts)
	n.DNS = slices.DeleteFunc(n.DNS, func(d string) bool { return !s.ca.Permits(d) })
	return n, nil
}

// files serves the operator's certificate and key files.
type files struct {
	cert, key string
	stamp     string // the files' sizes and times when last loaded
}

func (f *files) info() Info { return Info{Source: "operator", CertFile: f.cert, KeyFile: f.key} }

func (f *files) refresh(now time.Time, cur *tls.Certificate) (*tls.Certificate, string, error) {
	stamp, err := f.stampNow()
	if err != nil {
		return nil, "", err
	}
	if cur != nil && stamp == f.stamp {
		return nil, "", nil
	}
	pair, err := LoadPair(f.cert, f.key, now)
	if err != nil {
		return nil, "", err
	}
	f.stamp = stamp
	return pair, "reloaded " + f.cert, nil
}

func (f *files) stampNow() (string, error) {
	var b strings.Builder
	for _, p := range []struct{ what, path string }{{"the certificate --tls-cert", f.cert}, {"the key --tls-key", f.key}} {
		st, err := os.Stat(p.path)
		if err != nil {
			return "", fmt.Errorf("cannot read %s %s: %w", p.what, p.path, readHint(err))
		}
		fmt.Fprintf(&b, "%d/%d;", st.Size(), st.ModTime().UnixNano())
	}
	return b.String(), nil
}

// LoadPair reads a certificate chain and its key, and checks what a
// client would otherwise refuse at every handshake: that they belong
// together, that the certificate is valid at now and may serve TLS.
func LoadPair(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read the certificate --tls-cert %s: %w", certFile, readHint(err))
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read the key --tls-key %s: %w", keyFile, readHint(err))
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return nil, fmt.Errorf("--tls-key %s is not the key of the certificate --tls-cert %s: give the key the certificate was issued for", keyFile, certFile)
		}
		return nil, fmt.Errorf("--tls-cert %s and --tls-key %s are not a PEM certificate and its key: %w", certFile, keyFile, err)
	}
	leaf := pair.Leaf
	switch {
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("the certificate --tls-cert %s is not valid before %s: check this machine's clock", certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("the certificate --tls-cert %s expired on %s: renew it", certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	case len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny):
		return nil, fmt.Errorf("the certificate --tls-cert %s is not for TLS servers (no serverAuth extended key usage): ask for a server certificate", certFile)
	}
	return &pair, nil
}

func readHint(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w (the node's user must be able to read it)", err)
	}
	return err
}
