package tlsca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

// Names are what a server certificate is for: DNS names and IP addresses.
type Names struct {
	DNS []string
	IPs []net.IP
}

// ParseHosts reads host names and IP addresses an operator gave (the
// --tls-hosts flag), refusing anything that is neither.
func ParseHosts(hosts []string) (Names, error) {
	var n Names
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
			n.IPs = append(n.IPs, ip)
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(h, "."))
		if !validDNSName(name) {
			return Names{}, fmt.Errorf("%q is neither a host name nor an IP address", h)
		}
		n.DNS = append(n.DNS, name)
	}
	return n, nil
}

// LocalNames are the names a node is reached by on the LAN: localhost and
// the loopback addresses, host.local (mDNS), the host name if it is fully
// qualified, every address in addrs, and extra. Duplicates are dropped.
func LocalNames(hostname string, addrs []net.IP, extra Names) Names {
	n := Names{DNS: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	hostname = strings.ToLower(strings.TrimSuffix(hostname, "."))
	if label, _, _ := strings.Cut(hostname, "."); validDNSName(label) {
		n.DNS = append(n.DNS, label+".local")
	}
	if strings.Contains(hostname, ".") && validDNSName(hostname) {
		n.DNS = append(n.DNS, hostname)
	}
	n.DNS = append(n.DNS, extra.DNS...)
	n.IPs = append(n.IPs, addrs...)
	n.IPs = append(n.IPs, extra.IPs...)
	return n.dedup()
}

func (n Names) dedup() Names {
	var out Names
	for _, d := range n.DNS {
		if !slices.Contains(out.DNS, d) {
			out.DNS = append(out.DNS, d)
		}
	}
	for _, ip := range n.IPs {
		if !slices.ContainsFunc(out.IPs, ip.Equal) {
			out.IPs = append(out.IPs, ip)
		}
	}
	return out
}

// Missing lists the names of n that cert does not name: a certificate
// serves n only if Missing is empty.
func (n Names) Missing(cert *x509.Certificate) []string {
	var out []string
	for _, d := range n.DNS {
		if !slices.Contains(cert.DNSNames, d) {
			out = append(out, d)
		}
	}
	for _, ip := range n.IPs {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			out = append(out, ip.String())
		}
	}
	return out
}

// MachineAddrs lists the machine's LAN addresses: every interface address
// but loopback, link-local and multicast ones, which no tablet uses in a
// URL.
func MachineAddrs() ([]net.IP, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list the machine's addresses: %w", err)
	}
	var out []net.IP
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() || ipn.IP.IsMulticast() || ipn.IP.IsUnspecified() {
			continue
		}
		out = append(out, ipn.IP)
	}
	return out, nil
}

// Issue makes a server certificate for names, valid LeafValidity from
// now, with a new P-256 key. A DNS name the CA may not certify is an
// error: a leaf naming it would be refused by every client.
func (ca *CA) Issue(names Names, now time.Time) (*tls.Certificate, error) {
	if len(names.DNS)+len(names.IPs) == 0 {
		return nil, errors.New("issue a certificate: no names")
	}
	for _, d := range names.DNS {
		if !ca.Permits(d) {
			return nil, fmt.Errorf("%q is outside the site CA's permitted domains (%s)", d, strings.Join(ca.cert.PermittedDNSDomains, ", "))
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("leaf key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	cn := ""
	if len(names.DNS) > 0 {
		cn = names.DNS[0]
	}
	now = now.UTC()
	notAfter := now.Add(-backdate + LeafValidity)
	if notAfter.After(ca.cert.NotAfter) {
		return nil, fmt.Errorf("the site CA expires on %s, before a new certificate would: make a new CA with `pantry edge tls init --replace` and give it to the tablets", ca.cert.NotAfter.Format(time.DateOnly))
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Pantry"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              names.DNS,
		IPAddresses:           names.IPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("issue a certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("issue a certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// Verify reports whether the CA issued leaf and it is valid at now for
// serving TLS.
func (ca *CA) Verify(leaf *x509.Certificate, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

// encodeLeaf is a leaf's certificate and key in PEM.
func encodeLeaf(c *tls.Certificate) (certPEM, keyPEM []byte, err error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("leaf key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// validDNSName reports whether s is a DNS name a certificate may carry:
// letters, digits and hyphens in labels of 1 to 63, no wildcard.
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
