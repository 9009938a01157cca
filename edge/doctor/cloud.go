package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/edge/syncer"
	"github.com/pantry/pantry/syncproto"
)

// Clock skew bounds: under SkewWarn the clocks agree as well as one
// round trip can tell; over SkewFail session expiry, token lifetimes and
// the times on orders are visibly wrong.
const (
	SkewWarn = 5 * time.Second
	SkewFail = time.Minute
)

// certWarn is how long before its expiry the cloud's certificate is
// worth a warning.
const certWarn = 14 * 24 * time.Hour

// reenroll is the fix for a credential the cloud refuses.
func (d *doctor) reenroll() string {
	return "re-enroll with pantry edge init --data " + d.cfg.DataDir + " --cloud URL --token TOKEN (an admin makes a new token for the site)"
}

// cloud checks the way to the cloud step by step, stopping at the first
// step that fails: name, connection, TLS, then the credential and what
// the cloud says of this node.
func (d *doctor) cloud(ctx context.Context, id sqlite.Identity) {
	raw := id.CloudURL
	if d.cfg.CloudURL != "" {
		raw = d.cfg.CloudURL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.add("cloud-url", Fail, fmt.Sprintf("the cloud URL %q is not an http(s) URL", raw), d.reenroll())
		return
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	via := ""
	if p, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err == nil && p != nil {
		// The node's sync client goes through the proxy (HTTPS_PROXY):
		// so does doctor, and the first steps are about reaching it.
		host, port, via = p.Hostname(), p.Port(), " (the proxy in HTTPS_PROXY/HTTP_PROXY)"
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[p.Scheme]
		}
	}
	if !d.resolve(ctx, host, via) || !d.connect(ctx, host, port, via) {
		return
	}
	if via == "" && !d.handshake(ctx, u, host, port) {
		return
	}
	d.node2cloud(ctx, id, u)
}

func (d *doctor) resolve(ctx context.Context, host, via string) bool {
	if net.ParseIP(host) != nil {
		d.ok("cloud-dns", host+via+" is an address: nothing to look up")
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	addrs, err := d.cfg.Resolver.LookupHost(ctx, host)
	if err != nil {
		d.add("cloud-dns", Fail, fmt.Sprintf("%s%s does not resolve (%v); cloud checks stop here", host, via, err),
			"check this machine's DNS servers (resolvectl status, /etc/resolv.conf) and the cloud URL given to pantry edge init")
		return false
	}
	d.ok("cloud-dns", fmt.Sprintf("%s%s resolves to %s", host, via, strings.Join(first(addrs, 3), ", ")))
	return true
}

func (d *doctor) connect(ctx context.Context, host, port, via string) bool {
	addr := net.JoinHostPort(host, port)
	dialer := net.Dialer{Timeout: d.cfg.Timeout}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		d.add("cloud-tcp", Fail, fmt.Sprintf("cannot connect to %s%s (%v); cloud checks stop here", addr, via, err),
			"a firewall or the building's network blocks it: allow outbound TCP to "+addr+" (the node keeps taking orders meanwhile)")
		return false
	}
	conn.Close()
	d.ok("cloud-tcp", "connected to "+addr+via)
	return true
}

// handshake checks TLS for an https cloud, and says what plain http means.
func (d *doctor) handshake(ctx context.Context, u *url.URL, host, port string) bool {
	if u.Scheme == "http" {
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
			d.ok("cloud-tls", "plain HTTP to this machine: nothing crosses a network")
		} else {
			d.add("cloud-tls", Warn, "plain HTTP: the node's credential and every order cross the network unencrypted",
				"enroll against the cloud's https:// address: pantry edge init --cloud https://…")
		}
		return true
	}
	dialer := tls.Dialer{NetDialer: &net.Dialer{Timeout: d.cfg.Timeout}, Config: &tls.Config{ServerName: host, RootCAs: d.cfg.RootCAs}}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	conn, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		fix := tlsFix(err)
		d.add("cloud-tls", Fail, fmt.Sprintf("TLS with %s failed (%v); cloud checks stop here", host, err), fix)
		return false
	}
	defer conn.Close()
	state := conn.(*tls.Conn).ConnectionState()
	cert := state.PeerCertificates[0]
	left := cert.NotAfter.Sub(d.cfg.Now())
	verdict := fmt.Sprintf("%s, certificate for %s valid until %s", tls.VersionName(state.Version), host, cert.NotAfter.UTC().Format("2006-01-02"))
	if left < certWarn {
		d.add("cloud-tls", Warn, verdict+fmt.Sprintf(": it expires in %s", left.Round(time.Hour)), "ask the cloud's operator to renew its certificate")
		return true
	}
	d.ok("cloud-tls", verdict)
	return true
}

// tlsFix says what to do about a failed TLS handshake.
func tlsFix(err error) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &unknown):
		return "the cloud's certificate is not trusted here: install its CA (apt install ca-certificates; a company CA goes in /usr/local/share/ca-certificates, then update-ca-certificates)"
	case errors.As(err, &hostname):
		return "the certificate names other hosts: enroll with a URL whose host it names, or have the operator add this one"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "the certificate has expired or is not yet valid: check this machine's date (timedatectl status), else ask the cloud's operator to renew it"
	}
	return "look at the cloud's TLS setup (openssl s_client -connect HOST:PORT shows what it offers)"
}

// node2cloud asks the cloud what it knows of this node with its
// credential: accepted or not, its clock, the node's dead letters and the
// cloud's version.
func (d *doctor) node2cloud(ctx context.Context, id sqlite.Identity, u *url.URL) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: d.cfg.RootCAs}
	c := &syncer.Client{BaseURL: u.String(), Credential: id.Credential, HTTP: &http.Client{Transport: tr, Timeout: d.cfg.Timeout}}
	sent := d.cfg.Now()
	info, err := c.Node(ctx)
	received := d.cfg.Now()
	if err != nil {
		var e *syncer.Error
		switch {
		case errors.As(err, &e) && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden):
			d.add("cloud-credential", Fail, fmt.Sprintf("credential refused: the cloud answered %d (%s)", e.Status, e.Message), d.reenroll())
		case errors.As(err, &e) && e.Status == http.StatusNotFound:
			d.add("cloud-credential", Warn, "the cloud does not answer "+syncproto.PathNode+": it is older than this edge, so the credential, clock, dead letters and version are not checked",
				"upgrade the cloud (clouds are upgraded before their edges)")
		default:
			d.add("cloud-credential", Fail, "the cloud did not answer as a Pantry cloud: "+err.Error(), "check the cloud URL (pantry edge status shows it) and the cloud's health")
		}
		return
	}
	d.ok("cloud-credential", fmt.Sprintf("accepted: node %s of site %s; the cloud has applied this node's events up to %d", info.NodeID, info.SiteID, info.AppliedSeq))
	d.clock(sent, received, info.ServerTime)
	d.deadLetters(info.DeadLetters)
	d.version(info.CloudVersion)
}

// clock compares this machine's clock with the cloud's, taking the
// cloud's time to be the midpoint of the round trip.
func (d *doctor) clock(sent, received, server time.Time) {
	if server.IsZero() {
		d.add("clock", Warn, "the cloud did not say its time: clock skew not measured", "upgrade the cloud")
		return
	}
	rtt := received.Sub(sent)
	skew := sent.Add(rtt / 2).Sub(server)
	abs := skew.Abs().Round(time.Millisecond)
	verdict := fmt.Sprintf("this machine's clock is %s %s the cloud's (±%s)", abs, map[bool]string{true: "ahead of", false: "behind"}[skew >= 0], (rtt / 2).Round(time.Millisecond))
	fix := "turn on time sync: timedatectl set-ntp true (systemd-timesyncd or chrony), and check timedatectl status"
	switch {
	case abs >= SkewFail:
		d.add("clock", Fail, verdict+": session expiry and order times are off", fix)
	case abs >= SkewWarn:
		d.add("clock", Warn, verdict, fix)
	default:
		d.ok("clock", verdict)
	}
}

func (d *doctor) deadLetters(n int) {
	if n == 0 {
		d.ok("dead-letters", "the cloud holds no dead letters of this node")
		return
	}
	d.add("dead-letters", Warn, fmt.Sprintf("the cloud could not apply %d of this node's events and keeps them as dead letters", n),
		"an admin looks at them on the dashboard's dead letters page and re-applies them once fixed; this node goes on meanwhile")
}

func (d *doctor) version(cloud string) {
	switch {
	case cloud == d.cfg.Version:
		d.ok("version", "this edge and the cloud both run "+cloud)
	case cloud == "":
		d.add("version", Warn, "the cloud did not say its version; this edge runs "+d.cfg.Version, "upgrade the cloud")
	default:
		d.add("version", Warn, fmt.Sprintf("this edge runs %s, the cloud %s", d.cfg.Version, cloud),
			"run the same release on both: upgrade the cloud first, then the edges (the cloud accepts the previous sync version meanwhile)")
	}
}
