package testport_test

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/pantry/pantry/internal/testport"
)

// TestAddr: the address is free (a listener binds it) and below the
// ephemeral range, where no outgoing connection is given a port.
func TestAddr(t *testing.T) {
	top := 32767
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if low, err := strconv.Atoi(strings.Fields(string(b))[0]); err == nil && low > 21000 {
			top = low - 1
		}
	}
	seen := map[string]bool{}
	for range 50 {
		addr := testport.Addr(t)
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		if port < 20000 || port > top {
			t.Fatalf("port %d is outside 20000-%d, below the ephemeral range", port, top)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("the free address %s cannot be bound: %v", addr, err)
		}
		ln.Close()
		seen[addr] = true
	}
	if len(seen) < 40 {
		t.Fatalf("50 picks gave only %d distinct ports", len(seen))
	}
}
