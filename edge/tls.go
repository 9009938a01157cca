package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pantry/pantry/edge/tlsca"
)

// TLS configures HTTPS and MQTT over TLS (mqtts, wss) on the building's
// LAN. Tablets need a secure context for screen wake lock, service
// workers and unlocking audio, so the staff app is served over HTTPS and
// reaches the broker over wss.
//
// The certificate is the operator's (CertFile and KeyFile, reloaded when
// they change) or else a leaf of the site CA in the data directory (made
// if missing; see tlsca), renewed in the background before it expires and
// when the machine's addresses change. With TLS on, the plain HTTP
// listener redirects to HTTPS, or with HTTPLanding still serves the
// attendee pages; the MQTT WebSocket listener speaks wss; the plain MQTT
// listener stays as configured (bind it to loopback, or leave it out, to
// keep tablet passwords off the LAN in clear).
type TLS struct {
	// On turns TLS on. Off, the other fields must be empty.
	On bool
	// CertFile and KeyFile are the operator's certificate chain and key
	// (PEM); both or neither.
	CertFile, KeyFile string
	// Hosts are extra names and addresses for the site CA's leaf, e.g. a
	// DNS name the organization gave the node (not with CertFile).
	Hosts []string
	// HTTPSAddr is the HTTPS listen address (required when On).
	HTTPSAddr string
	// MQTTSAddr is the MQTT over TLS listen address; "" for none.
	MQTTSAddr string
	// HTTPLanding keeps the attendee pages on plain HTTP as well.
	HTTPLanding bool
	// CheckEvery is how often the certificate is checked for renewal, or
	// the operator's files for a change (default 1 min).
	CheckEvery time.Duration
	// Hostname and Addrs are the machine's host name and LAN addresses
	// (default: os.Hostname and its interfaces'), for the site CA's leaf.
	Hostname func() (string, error)
	Addrs    func() ([]net.IP, error)
}

// checkTLS refuses settings that cannot work together, naming the flags.
func checkTLS(cfg Config) error {
	t := cfg.TLS
	if !t.On {
		switch {
		case t.CertFile != "" || t.KeyFile != "":
			return errors.New("--tls-cert or --tls-key is set but TLS is off: pass --tls on to serve them")
		case t.HTTPLanding:
			return errors.New("--http-landing is set but TLS is off (everything is plain HTTP already): pass --tls on, or drop --http-landing")
		case len(t.Hosts) > 0:
			return errors.New("--tls-hosts is set but TLS is off: pass --tls on, or drop --tls-hosts")
		}
		return nil
	}
	switch {
	case (t.CertFile == "") != (t.KeyFile == ""):
		return errors.New("pass both --tls-cert and --tls-key, or neither to serve a certificate of the site CA")
	case t.CertFile != "" && len(t.Hosts) > 0:
		return errors.New("--tls-hosts names hosts for the site CA's certificate, but --tls-cert serves your own, which names its hosts itself: drop --tls-hosts")
	case t.HTTPSAddr == "":
		return errors.New("--tls on needs an HTTPS address: pass --https, e.g. :8443")
	case t.HTTPLanding && cfg.HTTPAddr == "":
		return errors.New("--http-landing keeps the attendee pages on plain HTTP, but --http is empty: pass --http, e.g. :8080")
	case cfg.MQTTAddr == "" && t.MQTTSAddr == "":
		return errors.New("--mqtt and --mqtts are both empty: tablets and tools need one of them")
	}
	if _, err := tlsca.ParseHosts(t.Hosts); err != nil {
		return fmt.Errorf("--tls-hosts: %w: give host names or IP addresses, separated by commas", err)
	}
	return nil
}

// setupTLS makes the site CA when the node needs one (TLS on with no
// operator certificate, or a demo node, so that its CA can be exported
// beforehand) and loads the certificate to serve.
func (n *Node) setupTLS() error {
	t := n.cfg.TLS
	operator := t.CertFile != ""
	if n.cfg.Demo || (t.On && !operator) {
		ca, created, err := tlsca.EnsureCA(n.cfg.DataDir, tlsca.CAOptions{Name: n.site.Name, Hostname: t.Hostname, Now: n.cfg.Now})
		if err != nil {
			return fmt.Errorf("site CA: %w", err)
		}
		if created {
			n.log.Info("made a site CA for HTTPS on the LAN: give it to the tablets through device management (`pantry edge tls ca`)", "sha256", ca.Fingerprint())
		}
	}
	if !t.On {
		return nil
	}
	var err error
	if operator {
		n.certs, err = tlsca.FileCerts(t.CertFile, t.KeyFile, n.cfg.Now())
	} else {
		hosts, _ := tlsca.ParseHosts(t.Hosts) // checked by checkTLS
		n.certs, err = tlsca.SiteCerts(n.cfg.DataDir, tlsca.SiteOptions{Hosts: hosts, Hostname: t.Hostname, Addrs: t.Addrs, Now: n.cfg.Now})
	}
	if err != nil {
		return fmt.Errorf("TLS: %w", err)
	}
	return nil
}

// bindHTTP binds the plain HTTP listener (unless TLS is on and --http is
// empty) and, with TLS on, the HTTPS one. Both retry temporary accept
// failures (see retryListener).
func (n *Node) bindHTTP() error {
	if n.cfg.HTTPAddr != "" || !n.cfg.TLS.On {
		ln, err := net.Listen("tcp", n.cfg.HTTPAddr)
		if err != nil {
			return addrError("HTTP", "--http", n.cfg.HTTPAddr, err)
		}
		n.ln = &retryListener{Listener: ln, log: n.log, what: "http"}
	}
	if n.cfg.TLS.On {
		ln, err := net.Listen("tcp", n.cfg.TLS.HTTPSAddr)
		if err != nil {
			n.closeHTTP()
			return addrError("HTTPS", "--https", n.cfg.TLS.HTTPSAddr, err)
		}
		// fasthttp speaks HTTP/1.1 only: say so by ALPN.
		n.httpsLn = tls.NewListener(&retryListener{Listener: ln, log: n.log, what: "https"}, n.certs.ServerConfig("http/1.1"))
	}
	return nil
}

// closeHTTP closes the HTTP listeners bound so far.
func (n *Node) closeHTTP() {
	for _, ln := range []net.Listener{n.ln, n.httpsLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

// mqttsAddr is where the broker listens for MQTT over TLS: "" with TLS
// off, whatever --mqtts says (it has a default).
func (n *Node) mqttsAddr() string {
	if n.certs == nil {
		return ""
	}
	return n.cfg.TLS.MQTTSAddr
}

// mqttTLS is the broker's TLS configuration, nil with TLS off.
func (n *Node) mqttTLS() *tls.Config {
	if n.certs == nil {
		return nil
	}
	return n.certs.ServerConfig()
}

// httpsPort is where plain HTTP redirects to: the port of an https public
// URL (a port forward in front of the node), else the HTTPS listener's;
// 0 with TLS off.
func (n *Node) httpsPort() int {
	if n.httpsLn == nil {
		return 0
	}
	if u, err := url.Parse(n.cfg.PublicURL); err == nil && u.Scheme == "https" {
		if u.Port() == "" {
			return 443
		}
		if p, err := strconv.Atoi(u.Port()); err == nil {
			return p
		}
	}
	return n.httpsLn.Addr().(*net.TCPAddr).Port
}

// publicHost is the host of the derived public URL: the LAN address, or
// with the operator's certificate a name it covers when it does not cover
// that address (phones would refuse the certificate for the address).
func (n *Node) publicHost() string {
	host := lanAddress()
	if n.certs == nil || n.certs.Info().Source != "operator" {
		return host
	}
	leaf := n.certs.Leaf()
	if ip := net.ParseIP(host); ip != nil && slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
		return host
	}
	for _, d := range leaf.DNSNames {
		if !strings.HasPrefix(d, "*.") {
			return d
		}
	}
	return host
}

// keepCerts renews or reloads the certificate in the background until ctx
// ends; the returned channel closes when it has stopped.
func (n *Node) keepCerts(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if n.certs != nil {
			n.certs.Keep(ctx, n.cfg.TLS.CheckEvery, n.cfg.Now, n.log)
		}
	}()
	return done
}

// recordServing writes how the node serves into the data directory, for
// `pantry edge tls status` and `pantry edge qr` (see tlsca.Serving), and
// warns when plain MQTT listens on the LAN beside TLS.
func (n *Node) recordServing() {
	s := tlsca.Serving{
		TLS: n.cfg.TLS.On, HTTP: addrString(n.HTTPAddr()), HTTPS: addrString(n.HTTPSAddr()),
		MQTT: addrString(n.MQTTAddr()), MQTTS: addrString(n.MQTTSAddr()), MQTTWS: n.cfg.MQTTWSAddr,
		HTTPLanding: n.cfg.TLS.HTTPLanding, PublicURL: n.PublicURL(), StartedAt: n.cfg.Now().UTC(),
	}
	if n.certs != nil {
		info := n.certs.Info()
		s.Source, s.CertFile, s.KeyFile = info.Source, info.CertFile, info.KeyFile
		if a, ok := n.MQTTAddr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
			n.log.Warn("plain MQTT listens on the LAN beside TLS: tablet passwords may cross it in clear; pass --mqtt 127.0.0.1:1883 to keep it for tools on this machine, or --mqtt \"\" to close it", "mqtt", a.String())
		}
	}
	if err := tlsca.WriteServing(n.cfg.DataDir, s); err != nil {
		n.log.Warn("record serving settings", "err", err)
	}
}

// HTTPSAddr is the bound HTTPS address, nil with TLS off.
func (n *Node) HTTPSAddr() net.Addr {
	if n.httpsLn == nil {
		return nil
	}
	return n.httpsLn.Addr()
}

// MQTTSAddr is the bound MQTT over TLS address, nil if there is none.
func (n *Node) MQTTSAddr() net.Addr { return n.bus.TLSAddr() }

// Certificate is the certificate the node serves HTTPS and MQTT over TLS
// with, nil with TLS off.
func (n *Node) Certificate() *tls.Certificate {
	if n.certs == nil {
		return nil
	}
	c, _ := n.certs.GetCertificate(nil)
	return c
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// serveHTTP serves the web app on the plain and HTTPS listeners, one
// fasthttp server for both; the channel receives the first to fail.
func (n *Node) serveHTTP() <-chan error {
	errc := make(chan error, 2)
	n.app.Handler() // builds the routes once, before either listener serves
	for _, ln := range []net.Listener{n.ln, n.httpsLn} {
		if ln != nil {
			go func() { errc <- n.app.Server().Serve(ln) }()
		}
	}
	return errc
}
