package tlsca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// operatorPair writes a certificate and key as an organization's own PKI
// would hand them over, and returns their paths.
func operatorPair(tb testing.TB, dir, name string, notBefore, notAfter time.Time, eku ...x509.ExtKeyUsage) (certFile, keyFile string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	if eku == nil {
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: notBefore, NotAfter: notAfter, ExtKeyUsage: eku, DNSNames: []string{name}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}

func TestFileCertsRefuses(t *testing.T) {
	dir := t.TempDir()
	goodCert, goodKey := operatorPair(t, dir, "pantry.example.com", t0.Add(-time.Hour), t0.Add(90*24*time.Hour))
	_, otherKey := operatorPair(t, dir, "other.example.com", t0.Add(-time.Hour), t0.Add(90*24*time.Hour))
	expiredCert, expiredKey := operatorPair(t, dir, "expired.example.com", t0.Add(-48*time.Hour), t0.Add(-24*time.Hour))
	futureCert, futureKey := operatorPair(t, dir, "future.example.com", t0.Add(24*time.Hour), t0.Add(48*time.Hour))
	clientCert, clientKey := operatorPair(t, dir, "client.example.com", t0.Add(-time.Hour), t0.Add(time.Hour), x509.ExtKeyUsageClientAuth)
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("-----BEGIN NONSENSE-----\n"), 0o644)
	for _, tt := range []struct {
		name, cert, key, want string
	}{
		{"KeyOfAnotherCertificate", goodCert, otherKey, "is not the key of the certificate"},
		{"KeyGivenAsCertificate", goodKey, goodCert, "are not a PEM certificate and its key"},
		{"Garbage", garbage, goodKey, "are not a PEM certificate and its key"},
		{"MissingCertificate", filepath.Join(dir, "nope.crt"), goodKey, "cannot read the certificate --tls-cert"},
		{"MissingKey", goodCert, filepath.Join(dir, "nope.key"), "cannot read the key --tls-key"},
		{"Expired", expiredCert, expiredKey, "expired on"},
		{"NotYetValid", futureCert, futureKey, "is not valid before"},
		{"ClientCertificate", clientCert, clientKey, "not for TLS servers"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FileCerts(tt.cert, tt.key, t0)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	certs, err := FileCerts(goodCert, goodKey, t0)
	if err != nil {
		t.Fatal(err)
	}
	if info := certs.Info(); info.Source != "operator" || info.CertFile != goodCert || certs.Leaf().DNSNames[0] != "pantry.example.com" {
		t.Fatalf("info %+v, leaf %v", info, certs.Leaf().DNSNames)
	}
}

// TestFileCertsReload: the operator replaces the files; the next Refresh
// serves the new pair. A broken replacement is refused and the old pair
// stays in service.
func TestFileCertsReload(t *testing.T) {
	dir, staging := t.TempDir(), t.TempDir()
	certFile, keyFile := operatorPair(t, dir, "pantry.example.com", t0.Add(-time.Hour), t0.Add(90*24*time.Hour))
	certs, err := FileCerts(certFile, keyFile, t0)
	if err != nil {
		t.Fatal(err)
	}
	first := certs.Leaf()
	if why, err := certs.Refresh(t0); why != "" || err != nil {
		t.Fatalf("Refresh with unchanged files = %q, %v; want nothing done", why, err)
	}

	newCert, newKey := operatorPair(t, staging, "pantry.example.com", t0, t0.Add(180*24*time.Hour))
	replace(t, newCert, certFile)
	if _, err := certs.Refresh(t0); err == nil || !strings.Contains(err.Error(), "is not the key of the certificate") {
		t.Fatalf("Refresh with the new certificate but the old key: %v, want the pair refused", err)
	}
	if certs.Leaf().SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatal("a refused pair replaced the one in service")
	}
	replace(t, newKey, keyFile)
	why, err := certs.Refresh(t0)
	if err != nil || !strings.Contains(why, "reloaded") {
		t.Fatalf("Refresh with the new pair = %q, %v", why, err)
	}
	if certs.Leaf().SerialNumber.Cmp(first.SerialNumber) == 0 || !certs.Leaf().NotAfter.Equal(t0.Add(180*24*time.Hour)) {
		t.Fatal("the new pair is not in service")
	}
}

// replace copies src over dst with a modification time that differs from
// dst's even on a file system with coarse timestamps.
func replace(tb testing.TB, src, dst string) {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	st, err := os.Stat(dst)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	later := st.ModTime().Add(time.Second)
	if err := os.Chtimes(dst, later, later); err != nil {
		tb.Fatal(err)
	}
}
