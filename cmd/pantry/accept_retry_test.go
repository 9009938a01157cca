package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/edge/tlsca"
)

// TestListenersSurviveEMFILE: an edge process limited to 64 file
// descriptors is flooded with idle connections on each listener in turn
// (HTTP, HTTPS, MQTT) until accepting fails with "too many open files".
// Once the flood ends every listener serves again: fasthttp alone would
// have taken the first EMFILE as fatal and stopped serving HTTP.
func TestListenersSurviveEMFILE(t *testing.T) {
	bin := buildPantry(t)
	limited := filepath.Join(t.TempDir(), "pantry-64-fds")
	script := "#!/bin/sh\nulimit -n 64 || exit 1\nexec " + bin + " \"$@\"\n"
	if err := os.WriteFile(limited, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, addrs := t.TempDir(), newEdgeAddrs(t)
	httpsAddr := freeAddr(t)
	p := startEdgeAt(t, limited, dir, addrs, "--tls", "on", "--https", httpsAddr, "--mqtts", "", "--limit-address-rpm", "0")
	ca, err := tlsca.LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	httpsClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	var demo demoFile
	if raw, err := os.ReadFile(filepath.Join(dir, "demo.json")); err != nil || json.Unmarshal(raw, &demo) != nil {
		t.Fatalf("demo.json: %v", err)
	}

	serving := func() string { // "" when every listener serves
		if status, _ := get(t.Context(), p.url+"/healthz"); status != http.StatusOK {
			return "HTTP"
		}
		resp, err := httpsClient.Get("https://" + httpsAddr + "/healthz")
		if err != nil {
			return "HTTPS"
		}
		resp.Body.Close()
		tab, err := edgetest.Connect(t, addrs.mqtt, demo.Tablet.Username, demo.Tablet.Password)
		if err != nil || tab == nil {
			return "MQTT"
		}
		return ""
	}
	for _, l := range []struct{ name, addr, logged string }{
		{"HTTP", addrs.http, "listener=http err="},
		{"HTTPS", httpsAddr, "listener=https err="},
		{"MQTT", addrs.mqtt, "mqtt accept failed; retrying"},
	} {
		ok := t.Run(l.name, func(t *testing.T) {
			before := strings.Count(p.out.String(), l.logged)
			var flood []net.Conn
			for deadline := time.Now().Add(60 * time.Second); ; {
				if c, err := net.DialTimeout("tcp", l.addr, 10*time.Second); err == nil {
					flood = append(flood, c)
				}
				if strings.Count(p.out.String(), l.logged) > before && strings.Contains(p.out.String(), "too many open files") {
					break
				}
				select {
				case <-p.exited:
					t.Fatalf("the edge process exited during the flood on %s:\n%s", l.name, p.out)
				default:
				}
				if time.Now().After(deadline) || len(flood) > 1000 {
					t.Fatalf("%d connections did not exhaust the process's file descriptors on %s", len(flood), l.name)
				}
			}
			for _, c := range flood {
				c.Close()
			}
			var down string
			for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				select {
				case <-p.exited:
					t.Fatalf("the edge process exited after EMFILE on %s:\n%s", l.name, p.out)
				default:
				}
				if down = serving(); down == "" {
					return
				}
			}
			t.Fatalf("%s does not serve again within 60 s of the flood on %s", down, l.name)
		})
		if !ok {
			break // the next listener's flood would say nothing new
		}
	}
}
