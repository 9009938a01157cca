package main

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// linkProxy stands for a building's WAN link: a TCP proxy from an edge to
// the cloud that the test can cut (every open connection is reset and new
// ones are refused) and restore.
type linkProxy struct {
	ln     net.Listener
	target atomic.Pointer[string]
	up     atomic.Bool
	// upBytes counts bytes sent from the edge towards the cloud.
	upBytes atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newLinkProxy(tb testing.TB, target string) *linkProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &linkProxy{ln: ln, conns: map[net.Conn]struct{}{}}
	p.target.Store(&target)
	p.up.Store(true)
	p.wg.Add(1)
	go p.serve()
	tb.Cleanup(p.close)
	return p
}

func (p *linkProxy) URL() string { return "http://" + p.ln.Addr().String() }

// open counts the connections the proxy relays now.
func (p *linkProxy) open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// setUp restores or cuts the link.
func (p *linkProxy) setUp(up bool) {
	p.up.Store(up)
	if !up {
		p.mu.Lock()
		for c := range p.conns {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // a reset, as a dropped link looks to both ends
			}
			c.Close()
		}
		p.mu.Unlock()
	}
}

func (p *linkProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.up.Load() {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go func() { defer p.wg.Done(); p.relay(c) }()
	}
}

func (p *linkProxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		if !p.up.Load() {
			return false
		}
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
	return true
}

func (p *linkProxy) relay(client net.Conn) {
	server, err := net.Dial("tcp", *p.target.Load())
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, true) || !p.track(server, true) {
		client.Close()
		server.Close()
		return
	}
	defer p.track(client, false)
	defer p.track(server, false)
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(countingWriter{server, &p.upBytes}, client)
		server.Close()
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(client, server)
		client.Close()
		done <- struct{}{}
	}()
	<-done
	<-done
}

func (p *linkProxy) close() {
	p.ln.Close()
	p.setUp(false)
	p.wg.Wait()
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}
