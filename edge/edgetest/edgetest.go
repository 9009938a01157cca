// Package edgetest starts real edge nodes for tests: a real SQLite file in
// a temp dir, the real broker and a real HTTP listener on loopback ports.
package edgetest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/apitest"
	"github.com/pantry/pantry/internal/testport"
)

// Node is a running demo edge node.
type Node struct {
	*edge.Node
	URL    string
	Demo   sqlite.Demo
	WSAddr string
	Dir    string

	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// FreePort returns a free loopback address (testport): mochi's WebSocket
// listener binds only when served and cannot report a :0 port.
func FreePort(tb testing.TB) string {
	tb.Helper()
	return testport.Addr(tb)
}

// Start starts a demo node on loopback ports and stops it at cleanup.
// Rate limits are off unless configure sets them.
func Start(tb testing.TB, configure ...func(*edge.Config)) *Node {
	tb.Helper()
	dir := tb.TempDir()
	for attempt := 1; ; attempt++ {
		ws := FreePort(tb)
		cfg := edge.Config{
			DataDir: dir, HTTPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0", MQTTWSAddr: ws,
			Demo: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		}
		for _, f := range configure {
			f(&cfg)
		}
		ctx, cancel := context.WithCancel(context.Background())
		n, err := edge.New(ctx, cfg)
		if err != nil {
			cancel()
			// FreePort's port can be taken by anything on the machine
			// before the node binds it (an outgoing connection's local
			// port, another test's listener): take another.
			if errors.Is(err, syscall.EADDRINUSE) && cfg.MQTTWSAddr == ws && attempt < 3 {
				continue
			}
			tb.Fatalf("start edge node: %v", err)
		}
		node := &Node{Node: n, URL: "http://" + n.HTTPAddr().String(), Demo: *n.Demo(), WSAddr: cfg.MQTTWSAddr,
			Dir: cfg.DataDir, cancel: cancel, done: make(chan error, 1)}
		go func() { node.done <- n.Run(ctx) }()
		tb.Cleanup(func() { node.Stop(tb) })
		node.waitReady(tb)
		return node
	}
}

// Stop shuts the node down gracefully and waits for it; calling it again
// does nothing.
func (n *Node) Stop(tb testing.TB) {
	tb.Helper()
	if n.stopped {
		return
	}
	n.stopped = true
	n.cancel()
	select {
	case err := <-n.done:
		if err != nil {
			tb.Errorf("edge node stopped with: %v", err)
		}
	case <-time.After(30 * time.Second):
		tb.Errorf("edge node did not stop within 30 s")
	}
}

func (n *Node) waitReady(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(n.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("edge node at %s not ready within 20 s", n.URL)
}

// Response is an HTTP response with its body read.
type Response = apitest.Response

// Do sends a request to the server; see apitest.Do.
func (n *Node) Do(tb testing.TB, method, path, token string, body any, headers ...string) Response {
	tb.Helper()
	return apitest.Do(tb, n.URL, method, path, token, body, headers...)
}

// Session opens an attendee session in demo room i and returns its token.
func (n *Node) Session(tb testing.TB, room int) string {
	tb.Helper()
	resp := n.Do(tb, "POST", "/api/v1/sessions", "", map[string]string{"space_code": n.Demo.Rooms[room].Code})
	if resp.Status != http.StatusCreated {
		tb.Fatalf("open session: %d %s", resp.Status, resp.Body)
	}
	var s struct{ Token string }
	resp.Decode(tb, &s)
	return s.Token
}

// StaffToken logs the demo tablet in.
func (n *Node) StaffToken(tb testing.TB) string {
	tb.Helper()
	resp := n.Do(tb, "POST", "/api/v1/staff/login", "", map[string]string{"username": n.Demo.Tablet.Username, "password": n.Demo.Tablet.Password})
	if resp.Status != http.StatusOK {
		tb.Fatalf("staff login: %d %s", resp.Status, resp.Body)
	}
	var s struct{ Token string }
	resp.Decode(tb, &s)
	return s.Token
}
