package tlsca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// t0 is the tests' clock: certificates are issued at fixed times, so that
// renewal is tested without waiting for a year.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func caOptions() CAOptions {
	return CAOptions{Name: "Test site", Domains: []string{"pantry.example.com"},
		Hostname: func() (string, error) { return "edge-3", nil }, Now: func() time.Time { return t0 }}
}

// addrs is a machine's changing LAN addresses.
type addrs struct {
	mu  sync.Mutex
	ips []net.IP
}

func (a *addrs) set(ips ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ips = nil
	for _, s := range ips {
		a.ips = append(a.ips, net.ParseIP(s))
	}
}

func (a *addrs) get() ([]net.IP, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.ips), nil
}

func siteOptions(a *addrs, hosts ...string) SiteOptions {
	n, err := ParseHosts(hosts)
	if err != nil {
		panic(err)
	}
	return SiteOptions{Hosts: n, Hostname: func() (string, error) { return "edge-3", nil }, Addrs: a.get, Now: func() time.Time { return t0 }}
}

func TestEnsureCA(t *testing.T) {
	dir := t.TempDir()
	ca, created, err := EnsureCA(dir, caOptions())
	if err != nil || !created {
		t.Fatalf("EnsureCA = created %v, %v; want a new CA", created, err)
	}
	again, created, err := EnsureCA(dir, caOptions())
	if err != nil || created {
		t.Fatalf("EnsureCA again = created %v, %v; want the same CA loaded", created, err)
	}
	if got, want := again.Fingerprint(), ca.Fingerprint(); got != want {
		t.Fatalf("fingerprint after EnsureCA again = %s, want %s", got, want)
	}
	for file, want := range map[string]os.FileMode{"": 0o700, caKeyFile: 0o600, caCertFile: 0o644} {
		st, err := os.Stat(filepath.Join(Dir(dir), file))
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s mode = %v, want %v", filepath.Join("tls", file), got, want)
		}
	}
	c := ca.Certificate()
	if !c.IsCA || !c.MaxPathLenZero || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA: IsCA=%v MaxPathLenZero=%v KeyUsage=%v, want a CA that signs leaves only", c.IsCA, c.MaxPathLenZero, c.KeyUsage)
	}
	if got, want := c.NotAfter.Sub(c.NotBefore), CAValidity; got != want {
		t.Errorf("CA validity = %v, want %v", got, want)
	}
	want := []string{"home.arpa", "internal", "local", "localhost", "pantry.example.com"}
	if got := c.PermittedDNSDomains; !slices.Equal(got, want) || !c.PermittedDNSDomainsCritical {
		t.Errorf("permitted DNS domains = %q (critical %v), want %q, critical", got, c.PermittedDNSDomainsCritical, want)
	}
	if len(c.PermittedIPRanges) != 0 {
		t.Errorf("permitted IP ranges = %v, want none: LAN addresses change", c.PermittedIPRanges)
	}
	if got := c.Subject.CommonName; got != "Pantry site CA (Test site)" {
		t.Errorf("CA subject = %q", got)
	}
}

func TestCAFullyQualifiedHostname(t *testing.T) {
	opts := caOptions()
	opts.Hostname = func() (string, error) { return "Edge-3.Building.Example.NET", nil }
	ca, err := CreateCA(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Permits("edge-3.building.example.net") || ca.Permits("building.example.net") || ca.Permits("example.net") {
		t.Errorf("permitted %q: want the host's own name only, not its domain", ca.Certificate().PermittedDNSDomains)
	}
}

func TestLoadCARefuses(t *testing.T) {
	t.Run("ErrNoCA", func(t *testing.T) {
		dir := t.TempDir()
		_, err := LoadCA(dir)
		if !errors.Is(err, ErrNoCA) || !strings.Contains(err.Error(), "pantry edge tls init --data "+dir) {
			t.Fatalf("err = %v, want ErrNoCA saying how to make one", err)
		}
	})
	t.Run("KeyOfAnotherCA", func(t *testing.T) {
		dir, other := t.TempDir(), t.TempDir()
		mustCA(t, dir)
		mustCA(t, other)
		key, err := os.ReadFile(filepath.Join(Dir(other), caKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(Dir(dir), caKeyFile), key, 0o600)
		if _, err := LoadCA(dir); err == nil || !strings.Contains(err.Error(), "is not the key of") {
			t.Fatalf("err = %v, want the pair refused", err)
		}
	})
	t.Run("NotPEM", func(t *testing.T) {
		dir := t.TempDir()
		mustCA(t, dir)
		os.WriteFile(filepath.Join(Dir(dir), caCertFile), []byte("hello"), 0o644)
		if _, err := LoadCA(dir); err == nil || !strings.Contains(err.Error(), "not a PEM certificate") {
			t.Fatalf("err = %v, want the file named as not a certificate", err)
		}
	})
	t.Run("BadDomain", func(t *testing.T) {
		opts := caOptions()
		opts.Domains = []string{"*.example.com"}
		dir := t.TempDir()
		if _, err := CreateCA(dir, opts); err == nil || !strings.Contains(err.Error(), "is not a DNS name") {
			t.Fatalf("err = %v, want the domain refused", err)
		}
		if _, err := os.Stat(Dir(dir)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a refused CA left %s behind (%v)", Dir(dir), err)
		}
	})
}

func mustCA(tb testing.TB, dir string) *CA {
	tb.Helper()
	ca, _, err := EnsureCA(dir, caOptions())
	if err != nil {
		tb.Fatal(err)
	}
	return ca
}

func TestIssue(t *testing.T) {
	ca := mustCA(t, t.TempDir())
	names := LocalNames("edge-3", []net.IP{net.ParseIP("10.1.2.3"), net.ParseIP("fd00::3")}, Names{DNS: []string{"pantry.example.com"}})
	leaf, err := ca.Issue(names, t0)
	if err != nil {
		t.Fatal(err)
	}
	c := leaf.Leaf
	if got, want := c.DNSNames, []string{"localhost", "edge-3.local", "pantry.example.com"}; !slices.Equal(got, want) {
		t.Errorf("DNS names = %q, want %q", got, want)
	}
	if got, want := CertNames(c)[3:], []string{"127.0.0.1", "::1", "10.1.2.3", "fd00::3"}; !slices.Equal(got, want) {
		t.Errorf("IP addresses = %q, want %q", got, want)
	}
	if got, want := c.NotAfter.Sub(c.NotBefore), LeafValidity; got != want || got > 825*24*time.Hour {
		t.Errorf("leaf validity = %v, want %v (Apple refuses more than 825 days)", got, want)
	}
	if !c.NotBefore.Before(t0) {
		t.Errorf("NotBefore = %v, want before the issue time %v for slow tablet clocks", c.NotBefore, t0)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || c.IsCA {
		t.Errorf("ExtKeyUsage = %v IsCA = %v, want a server certificate (Apple requires serverAuth)", c.ExtKeyUsage, c.IsCA)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	for _, name := range CertNames(c) {
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: t0}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := ca.Issue(Names{DNS: []string{"www.example.org"}}, t0); err == nil || !strings.Contains(err.Error(), "outside the site CA's permitted domains") {
		t.Errorf("issue for www.example.org: err = %v, want refused", err)
	}
	if _, err := ca.Issue(Names{}, t0); err == nil {
		t.Error("a certificate with no names was issued")
	}
}

// TestNameConstraintsHold: a leaf for a name outside the CA's domains,
// signed with the CA's key by someone who bypassed Issue (a stolen key),
// is refused by Go's and by OpenSSL's verifier.
func TestNameConstraintsHold(t *testing.T) {
	dir := t.TempDir()
	ca := mustCA(t, dir)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "bank.example.org"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"bank.example.org"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	var constraintErr x509.CertificateInvalidError
	if _, err := forged.Verify(x509.VerifyOptions{Roots: roots, DNSName: "bank.example.org", CurrentTime: t0}); !errors.As(err, &constraintErr) || constraintErr.Reason != x509.CANotAuthorizedForThisName {
		t.Fatalf("Go verified a leaf outside the CA's domains: %v", err)
	}
	leafFile := filepath.Join(t.TempDir(), "forged.crt")
	os.WriteFile(leafFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	if out, err := openssl(t, "verify", "-CAfile", filepath.Join(Dir(dir), caCertFile), "-attime", unix(t0), leafFile); err == nil {
		t.Fatalf("openssl verified a leaf outside the CA's domains:\n%s", out)
	} else if !strings.Contains(out, "subtree violation") {
		t.Fatalf("openssl refused the forged leaf, but not for its name: %s", out)
	}
}

// TestOpenSSLAcceptsLeaf: a verifier that is not Go's accepts the site's
// leaf as a TLS server certificate for each of its names, and shows the
// CA's fingerprint as Fingerprint writes it.
func TestOpenSSLAcceptsLeaf(t *testing.T) {
	dir := t.TempDir()
	mustCA(t, dir)
	a := &addrs{}
	a.set("10.1.2.3")
	certs, err := SiteCerts(dir, siteOptions(a, "pantry.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	caFile, leafFile := filepath.Join(Dir(dir), caCertFile), filepath.Join(Dir(dir), leafCertFile)
	for _, check := range [][]string{
		{"-verify_hostname", "edge-3.local"}, {"-verify_hostname", "pantry.example.com"}, {"-verify_ip", "10.1.2.3"},
	} {
		args := append([]string{"verify", "-CAfile", caFile, "-purpose", "sslserver", "-attime", unix(t0.Add(time.Hour))}, check...)
		if out, err := openssl(t, append(args, leafFile)...); err != nil {
			t.Errorf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	out, err := openssl(t, "x509", "-noout", "-fingerprint", "-sha256", "-in", caFile)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := LoadCA(dir)
	if got, want := strings.TrimSpace(out[strings.Index(out, "=")+1:]), ca.Fingerprint(); got != want {
		t.Errorf("openssl fingerprint %s, Fingerprint %s", got, want)
	}
	if got := certs.Info().Source; got != "site-ca" {
		t.Errorf("source = %q", got)
	}
}

func openssl(tb testing.TB, args ...string) (string, error) {
	tb.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		tb.Fatal("no openssl in PATH: install it (`apt-get install openssl`) to run the certificate checks")
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

func unix(t time.Time) string { return big.NewInt(t.Unix()).String() }

// TestSiteCertsRenewal walks a node's leaf through its life: issued on the
// first start, kept across restarts, re-issued when the machine gets an
// address it does not name, when it nears its expiry, and when the CA is
// replaced.
func TestSiteCertsRenewal(t *testing.T) {
	dir := t.TempDir()
	mustCA(t, dir)
	a := &addrs{}
	a.set("10.1.2.3")
	certs, err := SiteCerts(dir, siteOptions(a))
	if err != nil {
		t.Fatal(err)
	}
	first := certs.Leaf()
	if !slices.ContainsFunc(first.IPAddresses, net.ParseIP("10.1.2.3").Equal) {
		t.Fatalf("leaf names %v, want the machine's address", CertNames(first))
	}

	restarted, err := SiteCerts(dir, siteOptions(a))
	if err != nil {
		t.Fatal(err)
	}
	if restarted.Leaf().SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatal("a restart issued a new leaf although the one on disk was good")
	}

	steps := []struct {
		name    string
		at      time.Time
		addrs   []string
		wantWhy string // "" : not renewed
	}{
		{"NothingChanged", t0.Add(24 * time.Hour), []string{"10.1.2.3"}, ""},
		{"AddressGone", t0.Add(48 * time.Hour), []string{}, ""},
		{"NewAddress", t0.Add(72 * time.Hour), []string{"10.1.2.3", "192.168.7.20"}, "does not name 192.168.7.20"},
		{"MonthsLater", t0.Add(300 * 24 * time.Hour), []string{"10.1.2.3", "192.168.7.20"}, ""},
		{"WithinRenewalWindow", t0.Add(72*time.Hour + LeafValidity - RenewBefore + time.Hour), []string{"10.1.2.3", "192.168.7.20"}, "expires on"},
	}
	prev := restarted.Leaf()
	for _, s := range steps {
		a.set(s.addrs...)
		why, err := restarted.Refresh(s.at)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if (why == "") != (s.wantWhy == "") || !strings.Contains(why, s.wantWhy) {
			t.Fatalf("%s: renewed because %q, want %q", s.name, why, s.wantWhy)
		}
		cur := restarted.Leaf()
		if renewed := cur.SerialNumber.Cmp(prev.SerialNumber) != 0; renewed != (s.wantWhy != "") {
			t.Fatalf("%s: leaf renewed = %v, want %v", s.name, renewed, s.wantWhy != "")
		}
		if cur.NotAfter.Before(s.at.Add(RenewBefore)) {
			t.Fatalf("%s: serving a leaf that expires on %v, within the renewal window", s.name, cur.NotAfter)
		}
		prev = cur
	}
	onDisk, err := tls.LoadX509KeyPair(filepath.Join(Dir(dir), leafCertFile), filepath.Join(Dir(dir), leafKeyFile))
	if err != nil || onDisk.Leaf.SerialNumber.Cmp(prev.SerialNumber) != 0 {
		t.Fatalf("the renewed leaf is not the one on disk (%v)", err)
	}
	st, err := os.Stat(filepath.Join(Dir(dir), leafKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("leaf.key: %v, mode %v, want 0600", err, st.Mode().Perm())
	}

	// The CA is replaced (`pantry edge tls init --replace`) while the
	// node runs: its next check issues a leaf of the new CA, and a
	// restart keeps that one.
	newCA, err := CreateCA(dir, caOptions())
	if err != nil {
		t.Fatal(err)
	}
	at := t0.Add(73*time.Hour + LeafValidity - RenewBefore)
	if why, err := restarted.Refresh(at); err != nil || !strings.Contains(why, "not valid under this site CA") {
		t.Fatalf("Refresh after the CA was replaced = %q, %v", why, err)
	}
	if err := newCA.Verify(restarted.Leaf(), at); err != nil {
		t.Fatalf("after the CA was replaced the leaf is not the new CA's: %v", err)
	}
	again, err := SiteCerts(dir, SiteOptions{Hostname: func() (string, error) { return "edge-3", nil }, Addrs: a.get, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	if again.Leaf().SerialNumber.Cmp(restarted.Leaf().SerialNumber) != 0 {
		t.Fatal("a restart after the new CA's leaf was issued issued another")
	}
}

func TestSiteCertsRefusesHostOutsideCA(t *testing.T) {
	dir := t.TempDir()
	mustCA(t, dir)
	_, err := SiteCerts(dir, siteOptions(&addrs{}, "pantry.example.org"))
	if err == nil || !strings.Contains(err.Error(), `"pantry.example.org" is outside the domains`) || !strings.Contains(err.Error(), "--domain") {
		t.Fatalf("err = %v, want the name refused, saying how to permit it", err)
	}
}

// TestGetCertificateServesRenewal: a real TLS listener keeps running while
// its leaf is renewed, and the next handshake presents the new one.
func TestGetCertificateServesRenewal(t *testing.T) {
	dir := t.TempDir()
	ca := mustCA(t, dir)
	a := &addrs{}
	a.set("10.1.2.3")
	certs, err := SiteCerts(dir, siteOptions(a))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", certs.ServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	served := func() *x509.Certificate {
		t.Helper()
		d := tls.Dialer{Config: &tls.Config{RootCAs: roots, ServerName: "edge-3.local", Time: func() time.Time { return t0.Add(100 * 24 * time.Hour) }}}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
		if err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		defer c.Close()
		return c.(*tls.Conn).ConnectionState().PeerCertificates[0]
	}
	before := served()
	a.set("10.9.9.9")
	if why, err := certs.Refresh(t0.Add(100 * 24 * time.Hour)); err != nil || why == "" {
		t.Fatalf("Refresh = %q, %v; want a renewal", why, err)
	}
	after := served()
	if after.SerialNumber.Cmp(before.SerialNumber) == 0 || !slices.ContainsFunc(after.IPAddresses, net.ParseIP("10.9.9.9").Equal) {
		t.Fatalf("the listener still serves the old leaf (%v)", CertNames(after))
	}
}

func TestParseHosts(t *testing.T) {
	for _, tt := range []struct {
		in      []string
		wantDNS []string
		wantIPs int
		wantErr string
	}{
		{[]string{"Pantry.Example.com.", " 10.0.0.1 ", "[fd00::1]", ""}, []string{"pantry.example.com"}, 2, ""},
		{[]string{"*.example.com"}, nil, 0, "neither a host name nor an IP address"},
		{[]string{"bad_name"}, nil, 0, "neither"},
		{[]string{"http://x"}, nil, 0, "neither"},
		{[]string{"-x.example.com"}, nil, 0, "neither"},
		{[]string{strings.Repeat("a", 64) + ".example.com"}, nil, 0, "neither"},
	} {
		n, err := ParseHosts(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseHosts(%q) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(n.DNS, tt.wantDNS) || len(n.IPs) != tt.wantIPs {
			t.Errorf("ParseHosts(%q) = %v, %v", tt.in, n, err)
		}
	}
}
