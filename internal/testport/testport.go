// Package testport picks free TCP ports for tests that must name a port
// before something listens on it (a process started with --http ADDR, a
// WebSocket port a page's CSP names).
//
// Asking the kernel for port 0 and closing the listener is racy: the port
// goes back to the ephemeral range, from which the kernel also gives
// every outgoing connection its local port, and on a busy test machine
// (browsers, PostgreSQL and Citus connections, HTTP clients) one took it
// before the test's process could bind it ("address already in use").
// The ports here come from below the ephemeral range, which the kernel
// never hands out on its own, so only another caller of this package
// could take one; each is checked free by listening on it.
package testport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// lowest is the lowest port handed out: well above the well-known and
// registered services a machine may run.
const lowest = 20000

// Addr returns a free 127.0.0.1:PORT, failing tb if there is none.
func Addr(tb testing.TB) string {
	tb.Helper()
	port, err := Port()
	if err != nil {
		tb.Fatalf("testport: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// Port returns a port free on 127.0.0.1 below the kernel's ephemeral
// range.
func Port() (int, error) {
	top := ephemeralLow() - 1
	if top <= lowest {
		top = lowest + 1000
	}
	var last error
	for range 100 {
		port := lowest + rand.IntN(top-lowest+1)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			last = err
			continue
		}
		if err := ln.Close(); err != nil {
			return 0, fmt.Errorf("free port %d: %w", port, err)
		}
		return port, nil
	}
	return 0, fmt.Errorf("no free port in %d-%d after 100 tries: %w", lowest, top, last)
}

// ephemeralLow is the lowest port of the kernel's ephemeral range
// (Linux's default, 32768, where /proc does not say).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		return 32768
	}
	low, err := strconv.Atoi(fields[0])
	if err != nil {
		return 32768
	}
	return low
}
