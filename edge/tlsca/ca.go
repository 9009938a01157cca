// Package tlsca gives an edge node the certificates it serves HTTPS and
// MQTT over TLS with on the building's LAN: a site certificate authority
// the node makes for itself, whose certificate the organization's device
// management installs on the pantry tablets, and the short-lived server
// ("leaf") certificate it issues from it for the machine's names and
// addresses, renewed before it expires or when the addresses change. An
// operator's own certificate and key are served the same way instead
// (FileCerts), reloaded when the files change.
//
// Tablets need a secure context for screen wake lock, service workers and
// unlocking audio; a LAN has no public name to get a public certificate
// for, hence a private CA per site.
//
// Everything lives in DIR/tls of the node's data directory: ca.key (0600),
// ca.crt, leaf.key (0600), leaf.crt and serving.json (how the node last
// served; see Serving).
package tlsca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Lifetimes and the renewal window.
const (
	// CAValidity is how long a site CA lasts. Replacing it means pushing
	// a new one to every tablet through device management, so it is long.
	CAValidity = 3653 * 24 * time.Hour // ten years
	// LeafValidity is how long a server certificate lasts. Apple platforms
	// refuse TLS server certificates valid for more than 825 days whatever
	// their CA (iOS 13, macOS 10.15), and for more than 398 days from the
	// CAs they ship; browsers apply the same 398 days to public CAs. A
	// private CA is bound only by the first rule today, but the node
	// renews its leaf by itself, so a short life costs nothing and keeps
	// within the stricter rule should any platform extend it to private
	// roots. 397 leaves a day for how validity periods are counted.
	LeafValidity = 397 * 24 * time.Hour
	// RenewBefore is how long before its expiry a leaf is re-issued.
	RenewBefore = 30 * 24 * time.Hour
	// backdate puts NotBefore an hour early, for tablets whose clock is
	// a little behind the node's.
	backdate = time.Hour
)

// DefaultDomains are the DNS names every site CA may certify, beside those
// named when it was made: the LAN-only namespaces (mDNS's .local, ICANN's
// .internal and home.arpa) and localhost. See CreateCA for why a site CA
// is constrained at all, and why only DNS names are.
var DefaultDomains = []string{"local", "internal", "home.arpa", "localhost"}

// Files in Dir.
const (
	caCertFile   = "ca.crt"
	caKeyFile    = "ca.key"
	leafCertFile = "leaf.crt"
	leafKeyFile  = "leaf.key"
)

// ErrNoCA is returned by LoadCA when the data directory has no site CA.
var ErrNoCA = errors.New("this data directory has no site CA")

// Dir is the directory of a node's TLS material in its data directory.
func Dir(dataDir string) string { return filepath.Join(dataDir, "tls") }

// CA is a site's certificate authority: its certificate and signing key.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// CAOptions say what a new site CA is called and what it may certify.
type CAOptions struct {
	// Name tells this site's CA from another's in a device-management
	// console: the subject is "Pantry site CA (Name)". Default: the host
	// name.
	Name string
	// Domains are DNS domains the CA may certify beside DefaultDomains,
	// e.g. the organization's "pantry.example.com" if tablets reach the
	// node by such a name. Each permits the name and every name under it.
	Domains []string
	// Hostname is the machine's host name (default os.Hostname): a fully
	// qualified one is permitted as well, so the leaf can name it.
	Hostname func() (string, error)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o CAOptions) withDefaults() CAOptions {
	if o.Hostname == nil {
		o.Hostname = os.Hostname
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// LoadCA reads the site CA of dataDir. An error wrapping ErrNoCA means
// there is none yet.
func LoadCA(dataDir string) (*CA, error) {
	dir := Dir(dataDir)
	certPEM, err := os.ReadFile(filepath.Join(dir, caCertFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (%s): create one with `pantry edge tls init --data %s`", ErrNoCA, dir, dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("read site CA: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, caKeyFile))
	if err != nil {
		return nil, fmt.Errorf("read site CA key: %w", err)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("site CA %s: %w", filepath.Join(dir, caCertFile), err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("site CA key %s: %w", filepath.Join(dir, caKeyFile), err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("site CA key %s is not the key of %s: restore the pair from a backup, or make a new CA with `pantry edge tls init --replace`", filepath.Join(dir, caKeyFile), filepath.Join(dir, caCertFile))
	}
	return &CA{cert: cert, key: key, pem: certPEM}, nil
}

// EnsureCA loads the site CA of dataDir, making one first if there is
// none; created says which. Calling it again changes nothing.
func EnsureCA(dataDir string, opts CAOptions) (ca *CA, created bool, err error) {
	ca, err = LoadCA(dataDir)
	if !errors.Is(err, ErrNoCA) {
		return ca, false, err
	}
	ca, err = CreateCA(dataDir, opts)
	return ca, err == nil, err
}

// CreateCA makes a new site CA in dataDir, replacing any there, and
// removes the leaf the old one issued. Tablets that trusted the old CA
// must be given the new one; callers ask before replacing.
//
// The CA is name-constrained to DNS names under DefaultDomains,
// opts.Domains and the machine's fully qualified host name. Its key lives
// on a box in a building, and the tablets trust it for the whole web:
// unconstrained, a stolen key could impersonate any site to them. Chrome
// (since 112), Firefox, Apple platforms and Go enforce constraints on a
// root. IP addresses are deliberately not constrained: LAN addresses
// change with DHCP and renumbering, some organizations use public ranges
// inside, and a certificate for a bare IP address is worth little to an
// attacker; a CA that could not follow an address change would have to be
// replaced on every tablet.
func CreateCA(dataDir string, opts CAOptions) (*CA, error) {
	opts = opts.withDefaults()
	domains, err := permittedDomains(opts)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("site CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	name := opts.Name
	if name == "" {
		name, _ = opts.Hostname()
	}
	now := opts.Now().UTC()
	tmpl := &x509.Certificate{
		SerialNumber:                serial,
		Subject:                     pkix.Name{CommonName: strings.TrimSpace("Pantry site CA (" + name + ")"), Organization: []string{"Pantry"}},
		NotBefore:                   now.Add(-backdate),
		NotAfter:                    now.Add(-backdate + CAValidity),
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid:       true,
		IsCA:                        true,
		MaxPathLenZero:              true, // no intermediates: the node signs leaves itself
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         domains,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("site CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("site CA certificate: %w", err)
	}
	ca := &CA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	if err := ca.save(dataDir); err != nil {
		return nil, err
	}
	return ca, nil
}

// permittedDomains is what a new CA may certify: DefaultDomains, the
// operator's domains (checked) and a fully qualified host name.
func permittedDomains(opts CAOptions) ([]string, error) {
	out := slices.Clone(DefaultDomains)
	for _, d := range opts.Domains {
		d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
		if !validDNSName(d) {
			return nil, fmt.Errorf("domain %q is not a DNS name: give one like pantry.example.com", d)
		}
		out = append(out, d)
	}
	if h, err := opts.Hostname(); err == nil {
		if h = strings.ToLower(strings.TrimSuffix(h, ".")); strings.Contains(h, ".") && validDNSName(h) {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func (ca *CA) save(dataDir string) error {
	dir := Dir(dataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return fmt.Errorf("site CA key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	// The key first: a crash between the two writes leaves a new key with
	// the old certificate, which LoadCA reports, rather than the reverse.
	if err := writeFileAtomic(filepath.Join(dir, caKeyFile), keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, caCertFile), ca.pem, 0o644); err != nil {
		return err
	}
	for _, f := range []string{leafCertFile, leafKeyFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the old CA's leaf: %w", err)
		}
	}
	return nil
}

// Certificate is the CA's certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// PEM is the CA's certificate in PEM, as device management imports it.
func (ca *CA) PEM() []byte { return slices.Clone(ca.pem) }

// Fingerprint is the SHA-256 of the CA's certificate, in the colon-separated
// upper-case hex that `openssl x509 -fingerprint -sha256` and
// device-management consoles show.
func (ca *CA) Fingerprint() string { return Fingerprint(ca.cert) }

// Fingerprint is the SHA-256 of cert, as CA.Fingerprint writes it.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	hexed := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(hexed); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(hexed[i : i+2])
	}
	return b.String()
}

// Permits reports whether the CA may certify DNS name name.
func (ca *CA) Permits(name string) bool {
	if len(ca.cert.PermittedDNSDomains) == 0 {
		return true
	}
	name = strings.ToLower(name)
	return slices.ContainsFunc(ca.cert.PermittedDNSDomains, func(d string) bool {
		return name == d || strings.HasSuffix(name, "."+d)
	})
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

func parseKeyPEM(b []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("not a PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an ECDSA key", k)
	}
	return ek, nil
}

// writeFileAtomic replaces path with data: a reader, or a crash, sees the
// old file or the new one, never half of one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // the rename itself survives a power cut
		d.Close()
	}
	return nil
}
