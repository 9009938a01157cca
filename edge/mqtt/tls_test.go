package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pantry/pantry/edge/tlsca"
	"github.com/pantry/pantry/internal/pantry"
)

// siteTLS makes a site CA and its leaf in a temp data directory, as an
// edge node does, and returns the server configuration and a client one
// that trusts the CA.
func siteTLS(tb testing.TB) (server, client *tls.Config) {
	tb.Helper()
	dir := tb.TempDir()
	ca, _, err := tlsca.EnsureCA(dir, tlsca.CAOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	certs, err := tlsca.SiteCerts(dir, tlsca.SiteOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	return certs.ServerConfig(), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
}

// TestMQTTS: a tablet that trusts the site CA logs in over mqtts and gets
// an order event; one that does not trust it, or speaks plain MQTT to the
// TLS port, gets nothing. The plain listener can be left out.
func TestMQTTS(t *testing.T) {
	server, client := siteTLS(t)
	b := MustServe(t, Config{TCPAddr: "127.0.0.1:0", TLSAddr: "127.0.0.1:0", TLS: server})
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: wait}, "tcp", b.TLSAddr().String(), client)
	if err != nil {
		t.Fatalf("mqtts dial: %v", err)
	}
	tab, _, err := connect(t, conn, credentials("mqtts-tablet", "tab-s"))
	if err != nil {
		t.Fatalf("connect over mqtts: %v", err)
	}
	tab.mustSubscribe(t, "pantry/S/orders/+")
	if err := b.PublishOrder("S", EventOrderCreated, testOrder("o1", pantry.StatusPlaced)); err != nil {
		t.Fatal(err)
	}
	if m := tab.next(t); m.Topic != "pantry/S/orders/o1" {
		t.Fatalf("got %s %q", m.Topic, m.Payload)
	}

	t.Run("UntrustedCA", func(t *testing.T) {
		_, err := tls.DialWithDialer(&net.Dialer{Timeout: wait}, "tcp", b.TLSAddr().String(), &tls.Config{ServerName: "127.0.0.1"})
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("dial without the site CA: %v, want an unknown authority", err)
		}
	})
	t.Run("PlainMQTTToTLSPort", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", b.TLSAddr().String(), wait)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := connect(t, conn, credentials("plain-on-tls", "tab-s")); err == nil {
			t.Fatal("a plain MQTT CONNECT was accepted on the mqtts port")
		}
	})
	t.Run("NoPlainListener", func(t *testing.T) {
		only, err := New(Config{TLSAddr: "127.0.0.1:0", TLS: server}, testAuth)
		if err != nil {
			t.Fatal(err)
		}
		defer only.Close()
		if only.TCPAddr() != nil || only.TLSAddr() == nil {
			t.Fatalf("TCPAddr %v TLSAddr %v, want mqtts only", only.TCPAddr(), only.TLSAddr())
		}
	})
	t.Run("MQTTSWithoutTLSConfig", func(t *testing.T) {
		if _, err := New(Config{TLSAddr: "127.0.0.1:0"}, testAuth); err == nil {
			t.Fatal("an mqtts listener without a certificate was accepted")
		}
	})
	t.Run("MQTTSPortInUse", func(t *testing.T) {
		_, err := New(Config{TCPAddr: "127.0.0.1:0", TLSAddr: b.TLSAddr().String(), TLS: server}, testAuth)
		le, ok := err.(*ListenError)
		if !ok || !le.TLS || !strings.Contains(err.Error(), "mqtts listen") {
			t.Fatalf("err = %v, want a ListenError naming the mqtts listener", err)
		}
	})
}

// TestWebSocketTLS: with TLS on, the WebSocket listener speaks wss, and a
// tablet that trusts the site CA gets its events over it.
func TestWebSocketTLS(t *testing.T) {
	server, client := siteTLS(t)
	addr := freePort(t)
	b := MustServe(t, Config{WSAddr: addr, TLS: server})
	var (
		tab *tablet
		err error
	)
	deadline := time.Now().Add(wait) // the listener binds after Serve returns
	for {
		conn, derr := dialWSS(addr, client)
		if derr == nil {
			tab, _, err = connect(t, conn, credentials("wss-tablet", "tab-s"))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("wss listener never came up: %v", derr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("connect over wss: %v", err)
	}
	tab.mustSubscribe(t, "pantry/S/orders/+")
	if err := b.PublishOrder("S", EventOrderCreated, testOrder("o2", pantry.StatusPlaced)); err != nil {
		t.Fatal(err)
	}
	if m := tab.next(t); m.Topic != "pantry/S/orders/o2" {
		t.Fatalf("got %s %q", m.Topic, m.Payload)
	}
	if _, err := dialWS(addr); err == nil {
		t.Fatal("plain ws:// was accepted on the wss listener")
	}
}

// dialWSS is dialWS over TLS.
func dialWSS(addr string, cfg *tls.Config) (net.Conn, error) {
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: wait, TLSClientConfig: cfg}
	u := url.URL{Scheme: "wss", Host: addr, Path: "/"}
	c, resp, err := d.Dial(u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("websocket dial %s: %w", u.String(), err)
	}
	_ = resp.Body.Close()
	return &wsConn{Conn: c}, nil
}
