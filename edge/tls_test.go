package edge_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/edge/tlsca"
	"github.com/pantry/pantry/internal/pantry"
)

// startTLS starts a demo node with TLS on loopback ports, with more
// settings from configure, and returns it with an HTTPS client that
// trusts its site CA.
func startTLS(tb testing.TB, configure ...func(*edge.Config)) (*edgetest.Node, *tlsClient) {
	tb.Helper()
	n := edgetest.Start(tb, append([]func(*edge.Config){func(c *edge.Config) {
		c.TLS = edge.TLS{On: true, HTTPSAddr: "127.0.0.1:0", MQTTSAddr: "127.0.0.1:0"}
	}}, configure...)...)
	ca, err := tlsca.LoadCA(n.Dir) // a demo node has one, whatever it serves
	if err != nil {
		tb.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	return n, newTLSClient(roots, "https://"+n.HTTPSAddr().String())
}

// tlsClient talks HTTPS to a node, trusting roots, and follows no
// redirect so that tests see them.
type tlsClient struct {
	base  string
	roots *x509.CertPool
	http  *http.Client
}

func newTLSClient(roots *x509.CertPool, base string) *tlsClient {
	return &tlsClient{base: base, roots: roots, http: &http.Client{
		Timeout:       60 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// do sends method url (absolute, or a path on the HTTPS base) with a JSON
// body and bearer token if given.
func (c *tlsClient) do(tb testing.TB, method, target, token string, body any, headers ...string) reply {
	tb.Helper()
	r, err := c.try(method, target, token, body, headers...)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, target, err)
	}
	return r
}

func (c *tlsClient) try(method, target, token string, body any, headers ...string) (reply, error) {
	if strings.HasPrefix(target, "/") {
		target = c.base + target
	}
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, b}, err
}

// session opens an attendee session in demo room 0 over HTTPS.
func (c *tlsClient) session(tb testing.TB, n *edgetest.Node) string {
	tb.Helper()
	r := c.do(tb, "POST", "/api/v1/sessions", "", map[string]string{"space_code": n.Demo.Rooms[0].Code})
	var s struct{ Token string }
	if json.Unmarshal(r.body, &s); r.status != http.StatusCreated || s.Token == "" {
		tb.Fatalf("open a session over HTTPS: %d %s", r.status, r.body)
	}
	return s.Token
}

// TestServeTLS: a node with TLS on and the site CA serves the attendee
// and staff pages over HTTPS to a client that trusts the CA and to no
// other, sends plain HTTP there, and delivers an order to a tablet over
// mqtts. QR codes and the record the CLI reads say https.
func TestServeTLS(t *testing.T) {
	n, c := startTLS(t)
	leaf := n.Certificate().Leaf
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Fatalf("the site leaf does not name 127.0.0.1: %v", err)
	}

	room := c.do(t, "GET", "/q/"+n.Demo.Rooms[0].Code, "", nil)
	if room.status != http.StatusOK || !strings.Contains(string(room.body), "<form") {
		t.Fatalf("attendee page over HTTPS: %d %.200s", room.status, room.body)
	}
	login := c.do(t, "POST", "/api/v1/staff/login", "", map[string]string{"username": n.Demo.Tablet.Username, "password": n.Demo.Tablet.Password})
	var tok struct{ Token string }
	if json.Unmarshal(login.body, &tok); login.status != http.StatusOK {
		t.Fatalf("staff login over HTTPS: %d %s", login.status, login.body)
	}
	staff := c.do(t, "GET", "/staff", "", nil, "Cookie", "pantry_staff="+tok.Token)
	csp := staff.header.Get("Content-Security-Policy")
	_, wsPort, _ := net.SplitHostPort(n.WSAddr)
	if staff.status != http.StatusOK || !strings.Contains(csp, "connect-src 'self' wss://127.0.0.1:"+wsPort+";") {
		t.Fatalf("staff page over HTTPS: %d, CSP %q; want wss only", staff.status, csp)
	}

	t.Run("ClientWithoutTheCA", func(t *testing.T) {
		_, err := newTLSClient(x509.NewCertPool(), c.base).try("GET", "/q/"+n.Demo.Rooms[0].Code, "", nil)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("err = %v, want the certificate refused as of an unknown authority", err)
		}
	})

	t.Run("PlainHTTP", func(t *testing.T) {
		httpsBase := "https://127.0.0.1:" + port(n.HTTPSAddr())
		for _, tt := range []struct {
			name, method, path string
			want               int
		}{
			{"StaffPage", "GET", "/staff", http.StatusTemporaryRedirect},
			{"StaffLogin", "POST", "/api/v1/staff/login", http.StatusTemporaryRedirect},
			{"RoomPage", "GET", "/q/" + n.Demo.Rooms[0].Code + "?x=1", http.StatusTemporaryRedirect},
			{"AttendeeAPI", "POST", "/api/v1/sessions", http.StatusTemporaryRedirect},
			{"Static", "GET", "/static/pantry.css", http.StatusTemporaryRedirect},
			{"Health", "GET", "/healthz", http.StatusOK},
			{"Readiness", "GET", "/readyz", http.StatusOK},
			{"Metrics", "GET", "/metrics", http.StatusOK},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := c.do(t, tt.method, n.URL+tt.path, "", map[string]string{})
				if r.status != tt.want {
					t.Fatalf("%s %s over HTTP = %d, want %d", tt.method, tt.path, r.status, tt.want)
				}
				if tt.want == http.StatusTemporaryRedirect {
					if got, want := r.header.Get("Location"), httpsBase+tt.path; got != want {
						t.Fatalf("Location = %q, want %q", got, want)
					}
				}
			})
		}
	})

	t.Run("PublicURL", func(t *testing.T) {
		u, err := url.Parse(n.PublicURL())
		if err != nil || u.Scheme != "https" || u.Port() != port(n.HTTPSAddr()) {
			t.Fatalf("public URL %q, want https on port %s", n.PublicURL(), port(n.HTTPSAddr()))
		}
		if err := leaf.VerifyHostname(u.Hostname()); err != nil {
			t.Fatalf("the QR codes' host %s is not in the certificate: %v", u.Hostname(), err)
		}
		s, ok, err := tlsca.ReadServing(n.Dir)
		if err != nil || !ok || !s.TLS || s.Source != "site-ca" || s.PublicURL != n.PublicURL() || s.HTTPS != n.HTTPSAddr().String() {
			t.Fatalf("serving record %+v (%v, %v)", s, ok, err)
		}
	})

	t.Run("OrderOverMQTTS", func(t *testing.T) {
		tab, err := edgetest.ConnectTLS(t, n.MQTTSAddr().String(), &tls.Config{RootCAs: c.roots, ServerName: "127.0.0.1"}, n.Demo.Tablet.Username, n.Demo.Tablet.Password)
		if err != nil {
			t.Fatalf("tablet over mqtts: %v", err)
		}
		site := "pantry/" + n.Demo.SiteID
		if code := tab.Subscribe(t, site+"/orders/+"); code != 1 {
			t.Fatalf("subscribe: reason 0x%02x", code)
		}
		token := c.session(t, n)
		r := c.do(t, "POST", "/api/v1/orders", token, map[string]any{"lines": []map[string]any{{"item_id": platterID(t, n), "quantity": 1}}})
		var o pantry.Order
		if json.Unmarshal(r.body, &o); r.status != http.StatusCreated {
			t.Fatalf("order over HTTPS: %d %s", r.status, r.body)
		}
		tab.Await(t, "order.created over mqtts", func(m edgetest.Message) bool {
			return m.Topic == site+"/orders/"+o.ID && strings.Contains(string(m.Payload), `"order.created"`)
		})
		if _, err := edgetest.ConnectTLS(t, n.MQTTSAddr().String(), &tls.Config{ServerName: "127.0.0.1"}, n.Demo.Tablet.Username, n.Demo.Tablet.Password); err == nil {
			t.Fatal("a tablet that does not trust the site CA connected over mqtts")
		}
	})
}

// TestServeTLSLanding: with --http-landing, phones that do not trust the
// site CA still order over plain HTTP; the staff app and its API still
// redirect.
func TestServeTLSLanding(t *testing.T) {
	n, c := startTLS(t, func(cfg *edge.Config) { cfg.TLS.HTTPLanding = true })
	code := n.Demo.Rooms[0].Code
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/", http.StatusOK},
		{"GET", "/q/" + code, http.StatusOK},
		{"GET", "/static/pantry.css", http.StatusOK},
		{"GET", "/api/v1/menu", http.StatusUnauthorized}, // served, asks for a session
		{"GET", "/staff", http.StatusTemporaryRedirect},
		{"POST", "/staff/login", http.StatusTemporaryRedirect},
		{"GET", "/api/v1/staff/orders", http.StatusTemporaryRedirect},
	} {
		if r := c.do(t, tt.method, n.URL+tt.path, "", nil); r.status != tt.want {
			t.Errorf("%s %s over HTTP = %d, want %d", tt.method, tt.path, r.status, tt.want)
		}
	}
	token := n.Session(t, 0) // over plain HTTP
	r := n.Do(t, "POST", "/api/v1/orders", token, map[string]any{"lines": []map[string]any{{"item_id": platterID(t, n), "quantity": 1}}})
	if r.Status != http.StatusCreated {
		t.Fatalf("order over plain HTTP with --http-landing: %d %s", r.Status, r.Body)
	}
}

// TestServeTLSOperatorCert: the operator's certificate is served, the QR
// codes name a host it covers, and replacing the files changes the
// certificate of the next handshake without a restart.
func TestServeTLSOperatorCert(t *testing.T) {
	dir := t.TempDir()
	pki := newPKI(t)
	certFile, keyFile := filepath.Join(dir, "edge.crt"), filepath.Join(dir, "edge.key")
	pki.issue(t, certFile, keyFile, "pantry.test")
	n, _ := startTLS(t, func(cfg *edge.Config) {
		cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.TLS.CheckEvery = certFile, keyFile, 50*time.Millisecond
	})
	c := newTLSClient(pki.roots, "https://"+n.HTTPSAddr().String())
	served := func() *x509.Certificate {
		t.Helper()
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", n.HTTPSAddr().String(), &tls.Config{RootCAs: pki.roots, ServerName: "pantry.test"})
		if err != nil {
			t.Fatalf("handshake with the operator's certificate: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	first := served()
	if r := c.do(t, "GET", "/q/"+n.Demo.Rooms[0].Code, "", nil); r.status != http.StatusOK {
		t.Fatalf("attendee page: %d", r.status)
	}
	u, _ := url.Parse(n.PublicURL())
	if err := first.VerifyHostname(u.Hostname()); u.Scheme != "https" || err != nil {
		t.Fatalf("public URL %s: not https on a host the certificate covers (%v)", n.PublicURL(), err)
	}
	if s, _, _ := tlsca.ReadServing(n.Dir); s.Source != "operator" || s.CertFile != certFile {
		t.Fatalf("serving record %+v, want the operator's files", s)
	}
	if _, err := os.Stat(filepath.Join(tlsca.Dir(n.Dir), "leaf.crt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a site leaf was issued although the operator's certificate is served (%v)", err)
	}

	staging := t.TempDir()
	pki.issue(t, filepath.Join(staging, "edge.crt"), filepath.Join(staging, "edge.key"), "pantry.test")
	for _, f := range []string{"edge.key", "edge.crt"} { // as an ACME client would: key, then certificate
		if err := os.Rename(filepath.Join(staging, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if served().SerialNumber.Cmp(first.SerialNumber) != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replaced certificate was not served within 30 s")
		}
	}
}

// TestServeTLSRefuses: settings that cannot work stop the node at start
// with a sentence naming the flag, and leave no listener behind.
func TestServeTLSRefuses(t *testing.T) {
	dir := t.TempDir()
	pki := newPKI(t)
	certFile, keyFile := filepath.Join(dir, "a.crt"), filepath.Join(dir, "a.key")
	pki.issue(t, certFile, keyFile, "pantry.test")
	_, otherKey := filepath.Join(dir, "b.crt"), filepath.Join(dir, "b.key")
	pki.issue(t, filepath.Join(dir, "b.crt"), otherKey, "other.test")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	on := edge.TLS{On: true, HTTPSAddr: "127.0.0.1:0", MQTTSAddr: "127.0.0.1:0"}
	with := func(f func(*edge.TLS)) edge.TLS { t := on; f(&t); return t }
	for _, tt := range []struct {
		name string
		tls  edge.TLS
		http string
		want string
	}{
		{"MismatchedKey", with(func(t *edge.TLS) { t.CertFile, t.KeyFile = certFile, otherKey }), "127.0.0.1:0", "is not the key of the certificate"},
		{"CertWithoutKey", with(func(t *edge.TLS) { t.CertFile = certFile }), "127.0.0.1:0", "pass both --tls-cert and --tls-key"},
		{"CertWithTLSOff", edge.TLS{CertFile: certFile, KeyFile: keyFile}, "127.0.0.1:0", "pass --tls on"},
		{"LandingWithTLSOff", edge.TLS{HTTPLanding: true}, "127.0.0.1:0", "--http-landing is set but TLS is off"},
		{"LandingWithoutHTTP", with(func(t *edge.TLS) { t.HTTPLanding = true }), "", "--http is empty"},
		{"NoHTTPSAddress", with(func(t *edge.TLS) { t.HTTPSAddr = "" }), "127.0.0.1:0", "pass --https"},
		{"HTTPSPortInUse", with(func(t *edge.TLS) { t.HTTPSAddr = busy.Addr().String() }), "127.0.0.1:0", "pass --https with another address"},
		{"MQTTSPortInUse", with(func(t *edge.TLS) { t.MQTTSAddr = busy.Addr().String() }), "127.0.0.1:0", "pass --mqtts with another address"},
		{"BadHost", with(func(t *edge.TLS) { t.Hosts = []string{"not a host"} }), "127.0.0.1:0", "--tls-hosts"},
		{"HostOutsideCA", with(func(t *edge.TLS) { t.Hosts = []string{"pantry.example.org"} }), "127.0.0.1:0", "outside the domains the site CA may certify"},
		{"HostsWithOperatorCert", with(func(t *edge.TLS) { t.CertFile, t.KeyFile, t.Hosts = certFile, keyFile, []string{"x.local"} }), "127.0.0.1:0", "drop --tls-hosts"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			httpAddr := tt.http
			if httpAddr != "" {
				httpAddr = edgetest.FreePort(t) // must be free again after the refusal
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			n, err := edge.New(ctx, edge.Config{DataDir: t.TempDir(), HTTPAddr: httpAddr, MQTTAddr: "127.0.0.1:0", Demo: true, TLS: tt.tls,
				Log: slog.New(slog.DiscardHandler)})
			if err == nil {
				n.Close()
				t.Fatalf("the node started; want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if httpAddr != "" {
				ln, err := net.Listen("tcp", httpAddr)
				if err != nil {
					t.Fatalf("the refused node left %s bound: %v", httpAddr, err)
				}
				ln.Close()
			}
		})
	}
}

func port(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// pki is an organization's own certificate authority, as an operator's
// certificate comes from.
type pki struct {
	cert  *x509.Certificate
	key   *ecdsa.PrivateKey
	roots *x509.CertPool
}

func newPKI(tb testing.TB) *pki {
	tb.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Example Corp Issuing CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := &pki{cert: cert, key: key, roots: x509.NewCertPool()}
	p.roots.AddCert(cert)
	return p
}

// issue writes a server certificate for name and 127.0.0.1, and its key.
func (p *pki) issue(tb testing.TB, certFile, keyFile, name string) {
	tb.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: []string{name}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		tb.Fatal(err)
	}
}
