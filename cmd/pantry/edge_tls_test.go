package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"image/png"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/pantry/pantry/edge/tlsca"
)

// pantryCmd runs the binary to completion and returns its stdout, its
// stderr and its error (an *exec.ExitError for a non-zero status).
func pantryCmd(tb testing.TB, bin string, args ...string) (stdout, stderr string, err error) {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

func mustPantry(tb testing.TB, bin string, args ...string) string {
	tb.Helper()
	out, errOut, err := pantryCmd(tb, bin, args...)
	if err != nil {
		tb.Fatalf("pantry %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// TestServeTLSProcess: `pantry edge serve --demo --tls on` as a technician
// runs it. The demo's URLs and the QR codes say https, the exported CA is
// what a client needs to trust the node, status tells what is served, and
// plain HTTP sends browsers to HTTPS.
func TestServeTLSProcess(t *testing.T) {
	bin := buildPantry(t)
	dir, addrs := t.TempDir(), newEdgeAddrs(t)
	httpsAddr, mqttsAddr := freeAddr(t), freeAddr(t)
	p := startEdgeAt(t, bin, dir, addrs, "--tls", "on", "--https", httpsAddr, "--mqtts", mqttsAddr)

	// The CA, exported three ways, is one certificate.
	caFile := filepath.Join(t.TempDir(), "site-ca.crt")
	wrote := mustPantry(t, bin, "edge", "tls", "ca", "--data", dir, "--out", caFile)
	var caJSON struct {
		PEM, SHA256, Subject string
		PermittedDNS         []string `json:"permitted_dns"`
	}
	if err := json.Unmarshal([]byte(mustPantry(t, bin, "edge", "tls", "ca", "--data", dir, "--json")), &caJSON); err != nil {
		t.Fatal(err)
	}
	pemOut, fingerprint, err := pantryCmd(t, bin, "edge", "tls", "ca", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	fileBody, _ := os.ReadFile(caFile)
	if string(fileBody) != pemOut || caJSON.PEM != pemOut || !strings.Contains(fingerprint, caJSON.SHA256) || !strings.Contains(wrote, caJSON.SHA256) {
		t.Fatalf("tls ca: file, stdout and --json differ:\n%s\n%s\n%+v", wrote, fingerprint, caJSON)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(fileBody) {
		t.Fatalf("the exported CA is not PEM: %q", fileBody)
	}
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// Every URL the demo printed is https, on the HTTPS port, on a host
	// the certificate names; over loopback, each page answers.
	var demo demoFile
	raw, err := os.ReadFile(filepath.Join(dir, "demo.json"))
	if err != nil || json.Unmarshal(raw, &demo) != nil {
		t.Fatalf("demo.json: %v", err)
	}
	_, httpsPort, _ := net.SplitHostPort(httpsAddr)
	leaf := servedLeaf(t, httpsAddr, roots)
	for _, u := range append([]string{demo.StaffURL}, demo.Rooms[0].URL, demo.Rooms[1].URL) {
		pu, err := url.Parse(u)
		if err != nil || pu.Scheme != "https" || pu.Port() != httpsPort || leaf.VerifyHostname(pu.Hostname()) != nil {
			t.Fatalf("demo URL %s: want https on port %s, on a host the certificate names (%v)", u, httpsPort, tlsca.CertNames(leaf))
		}
		resp, err := client.Get("https://" + httpsAddr + pu.Path)
		if err != nil {
			t.Fatalf("GET %s over loopback: %v", pu.Path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s over HTTPS: %d", pu.Path, resp.StatusCode)
		}
	}
	if !strings.Contains(p.out.String(), "tablets must trust it; export it with `pantry edge tls ca") {
		t.Errorf("serve did not say how to give the CA to the tablets:\n%s", p.out)
	}
	resp, err := client.Get(p.url + "/staff")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.Header.Get("Location"), "https://"+httpsAddr+"/staff"; resp.StatusCode != http.StatusTemporaryRedirect || got != want {
		t.Fatalf("plain HTTP /staff: %d to %q, want 307 to %q", resp.StatusCode, got, want)
	}

	// status says TLS is on with the site CA's certificate.
	var st tlsStatus
	if err := json.Unmarshal([]byte(mustPantry(t, bin, "edge", "tls", "status", "--data", dir, "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if !st.Recorded || !st.Serving.TLS || st.Serving.Source != "site-ca" || st.Certificate == nil || !st.Certificate.IssuedBySiteCA ||
		st.Certificate.DaysLeft < 390 || st.CA == nil || st.CA.SHA256 != caJSON.SHA256 || st.Serving.PublicURL != strings.TrimSuffix(demo.StaffURL, "/staff") {
		t.Fatalf("tls status: %+v %+v", st.Serving, st.Certificate)
	}
	text := mustPantry(t, bin, "edge", "tls", "status", "--data", dir)
	for _, want := range []string{"serving a certificate of the site CA", "127.0.0.1", caJSON.SHA256, "(redirects to https)"} {
		if !strings.Contains(text, want) {
			t.Errorf("tls status does not say %q:\n%s", want, text)
		}
	}

	// QR codes made without --public-url point at the node's https URL.
	qrDir := t.TempDir()
	out, errOut, err := pantryCmd(t, bin, "edge", "qr", "--data", dir, "--out", qrDir)
	if err != nil {
		t.Fatalf("pantry edge qr: %v\n%s", err, errOut)
	}
	first, _, _ := strings.Cut(out, "\n")
	file, _, _ := strings.Cut(first, "\t")
	if got, base := decodeQR(t, file), strings.TrimSuffix(demo.StaffURL, "/staff"); !strings.HasPrefix(got, base+"/q/") || !strings.HasPrefix(got, "https://") {
		t.Fatalf("QR code %s says %q, want a room under %s", file, got, base)
	}

	// tls init again changes nothing; a domain the CA cannot certify
	// needs --replace, which makes a new CA.
	if again := mustPantry(t, bin, "edge", "tls", "init", "--data", dir); !strings.Contains(again, "already made") || !strings.Contains(again, caJSON.SHA256) {
		t.Fatalf("tls init on a node with a CA:\n%s", again)
	}
	if _, errOut, err := pantryCmd(t, bin, "edge", "tls", "init", "--data", dir, "--domain", "pantry.example.com"); err == nil || !strings.Contains(errOut, "pass --replace") {
		t.Fatalf("tls init --domain without --replace: %v\n%s", err, errOut)
	}
	var made struct {
		Created      bool
		SHA256       string
		PermittedDNS []string `json:"permitted_dns"`
	}
	json.Unmarshal([]byte(mustPantry(t, bin, "edge", "tls", "init", "--data", dir, "--domain", "pantry.example.com", "--replace", "--json")), &made)
	if !made.Created || made.SHA256 == caJSON.SHA256 || !strings.Contains(strings.Join(made.PermittedDNS, ","), "pantry.example.com") {
		t.Fatalf("tls init --replace --domain: %+v", made)
	}
}

// servedLeaf is the certificate the node at addr presents, verified
// against roots for 127.0.0.1.
func servedLeaf(tb testing.TB, addr string, roots *x509.CertPool) *x509.Certificate {
	tb.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		tb.Fatalf("TLS handshake with the node, trusting the exported CA: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

func decodeQR(tb testing.TB, file string) string {
	tb.Helper()
	f, err := os.Open(file)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		tb.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		tb.Fatalf("%s does not decode: %v", file, err)
	}
	return res.GetText()
}

// TestServeTLSRefusesProcess: what a technician can get wrong with TLS
// stops `pantry edge serve` at once, exit status 1, with a sentence that
// names the flag; `tls ca` and `tls status` on a directory without a CA
// or node say what to run.
func TestServeTLSRefusesProcess(t *testing.T) {
	bin := buildPantry(t)
	certs := t.TempDir()
	operatorCert(t, filepath.Join(certs, "a"), "pantry-a.internal")
	operatorCert(t, filepath.Join(certs, "b"), "pantry-b.internal")
	serve := func(extra ...string) []string {
		return append([]string{"edge", "serve", "--demo", "--data", t.TempDir(), "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0",
			"--mqtt-ws", "", "--https", "127.0.0.1:0", "--mqtts", "127.0.0.1:0"}, extra...)
	}
	for _, tt := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"MismatchedCertAndKey", serve("--tls", "on", "--tls-cert", filepath.Join(certs, "a.crt"), "--tls-key", filepath.Join(certs, "b.key")), nil, "is not the key of the certificate"},
		{"MismatchedFromEnvironment", serve(), []string{"PANTRY_TLS=on", "PANTRY_TLS_CERT=" + filepath.Join(certs, "b.crt"), "PANTRY_TLS_KEY=" + filepath.Join(certs, "a.key")}, "is not the key of the certificate"},
		{"UnknownMode", serve("--tls", "auto"), nil, `--tls "auto": say on or off`},
		{"CertWithTLSOff", serve("--tls-cert", filepath.Join(certs, "a.crt"), "--tls-key", filepath.Join(certs, "a.key")), nil, "pass --tls on"},
		{"MissingCertFile", serve("--tls", "on", "--tls-cert", filepath.Join(certs, "nope.crt"), "--tls-key", filepath.Join(certs, "a.key")), nil, "cannot read the certificate --tls-cert"},
		{"BadHosts", serve("--tls", "on", "--tls-hosts", "10.0.0.1,not/a/host"), nil, "--tls-hosts"},
		{"TLSCAWithoutCA", []string{"edge", "tls", "ca", "--data", t.TempDir()}, nil, "pantry edge tls init"},
		{"TLSStatusWithoutNode", []string{"edge", "tls", "status", "--data", t.TempDir()}, nil, "no edge node data"},
		{"TLSInitWithoutNode", []string{"edge", "tls", "init", "--data", t.TempDir()}, nil, "no edge node data"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = append(os.Environ(), tt.env...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !asExitError(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("pantry %s: %v, want exit status 1\n%s", strings.Join(tt.args, " "), err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Fatalf("output does not say %q:\n%s", tt.want, out)
			}
		})
	}
}

func asExitError(err error, target **exec.ExitError) bool { return errors.As(err, target) }

// operatorCert writes base.crt and base.key for name, as an
// organization's PKI hands them over (here a CA of a directory of its own).
func operatorCert(tb testing.TB, base, name string) {
	tb.Helper()
	ca, _, err := tlsca.EnsureCA(tb.TempDir(), tlsca.CAOptions{Name: "Example Corp"})
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := ca.Issue(tlsca.Names{DNS: []string{name}}, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leaf.PrivateKey)
	if err != nil {
		tb.Fatal(err)
	}
	os.WriteFile(base+".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Certificate[0]}), 0o644)
	os.WriteFile(base+".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}

// TestEdgeInitMakesSiteCA: enrolling a box with `pantry edge init` also
// makes its site CA, whose fingerprint init reports, so that the CA can
// be exported before the node first serves.
func TestEdgeInitMakesSiteCA(t *testing.T) {
	w := newWorld(t)
	w.start(1)
	_, tok := w.api("POST", "/api/v1/sites/"+w.edges[0].siteID+"/enrollment-tokens", map[string]any{}, 201)
	dir := t.TempDir()
	var enrolled struct {
		SiteName string `json:"site_name"`
		SHA256   string `json:"site_ca_sha256"`
	}
	w.cliJSON(&enrolled, "edge", "init", "--data", dir, "--cloud", "http://"+w.addr, "--token", tok["token"].(string), "--json")
	var ca struct{ SHA256, Subject string }
	w.cliJSON(&ca, "edge", "tls", "ca", "--data", dir, "--json")
	if ca.SHA256 == "" || ca.SHA256 != enrolled.SHA256 || !strings.Contains(ca.Subject, enrolled.SiteName) {
		t.Fatalf("init reported CA %q for %q; tls ca says %+v", enrolled.SHA256, enrolled.SiteName, ca)
	}
	st, err := os.Stat(filepath.Join(tlsca.Dir(dir), "ca.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key: %v, want mode 0600", err)
	}
	// The node enrolled by w.start serves plain HTTP (TLS is off by
	// default) and its status says so.
	out := w.cli("edge", "tls", "status", "--data", w.edges[0].dir)
	if !regexp.MustCompile(`(?m)^tls\s+off `).Match(out) || !strings.Contains(string(out), "Pantry site CA (Building 0)") {
		t.Fatalf("tls status of a node serving without TLS:\n%s", out)
	}
}
