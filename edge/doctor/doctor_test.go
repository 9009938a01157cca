package doctor_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/doctor"
	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/edge/sqlite"
)

// demoDir makes a stopped demo node's data directory: a real SQLite
// file, seeded and closed as `pantry edge serve --demo` leaves it.
func demoDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	s, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.SeedDemo(context.Background()); err != nil {
		tb.Fatal(err)
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// stoppedConfig checks dir as a stopped node's.
func stoppedConfig(tb testing.TB, dir string) doctor.Config {
	return doctor.Config{DataDir: dir, HTTPAddr: closedAddr(tb), MQTTAddr: closedAddr(tb), Timeout: 10 * time.Second, Version: "test"}
}

func run(tb testing.TB, cfg doctor.Config) doctor.Report {
	tb.Helper()
	r, err := doctor.Run(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// check returns the named check of r, failing the test if there is none.
func check(tb testing.TB, r doctor.Report, name string) doctor.Check {
	tb.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("no %s check in %+v", name, r.Checks)
	return doctor.Check{}
}

func want(tb testing.TB, r doctor.Report, name string, status doctor.Status, verdict string) doctor.Check {
	tb.Helper()
	c := check(tb, r, name)
	if c.Status != status || !strings.Contains(c.Verdict, verdict) {
		tb.Fatalf("%s = %s %q, want %s with %q", name, c.Status, c.Verdict, status, verdict)
	}
	if (c.Fix == "") != (status == doctor.OK) {
		tb.Fatalf("%s is %s with fix %q: a fix goes with every warning and failure, and only with them", name, c.Status, c.Fix)
	}
	return c
}

func names(r doctor.Report) []string {
	var out []string
	for _, c := range r.Checks {
		out = append(out, c.Name)
	}
	return out
}

func listDir(tb testing.TB, dir string) []string {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestStoppedDemoNode: a stopped demo node's files are sound, the node is
// reported not running (its listeners unchecked) with how to start it,
// and doctor leaves the directory as it found it: no -wal or -shm file,
// which, made by root, would lock the service user out.
func TestStoppedDemoNode(t *testing.T) {
	dir := demoDir(t)
	before := listDir(t, dir)
	r := run(t, stoppedConfig(t, dir))
	want(t, r, "data-dir", doctor.OK, "writable")
	want(t, r, "disk-space", doctor.OK, "free of")
	want(t, r, "database", doctor.OK, "quick_check")
	want(t, r, "wal", doctor.OK, "stopped cleanly")
	if c := want(t, r, "node", doctor.Warn, "node not running: listeners not checked"); !strings.Contains(c.Fix, "systemctl start pantry-edge") {
		t.Fatalf("node fix = %q, want systemctl start pantry-edge", c.Fix)
	}
	want(t, r, "outbox", doctor.OK, "a demo node replicates nothing")
	want(t, r, "cloud", doctor.OK, "not enrolled")
	for _, n := range []string{"http", "mqtt", "tablets", "cloud-dns"} {
		if slices.Contains(names(r), n) {
			t.Fatalf("a stopped demo node got a %s check: %v", n, names(r))
		}
	}
	if got, want := r.Worst(), doctor.Warn; got != want {
		t.Fatalf("worst = %s, want %s", got, want)
	}
	if got := listDir(t, dir); !slices.Equal(got, before) {
		t.Fatalf("doctor changed the data directory: %v, was %v", got, before)
	}
	full := stoppedConfig(t, dir)
	full.Full = true
	want(t, run(t, full), "database", doctor.OK, "integrity_check")
}

// TestCorruptDatabase: a copy of a sound database with damaged pages
// fails the integrity check, saying what to do, in both forms.
func TestCorruptDatabase(t *testing.T) {
	dir := demoDir(t)
	path := filepath.Join(dir, sqlite.FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096 // SQLite's default page size, which the store keeps
	if len(data) < 8*page {
		t.Fatalf("the demo database has %d bytes, too few pages to damage", len(data))
	}
	// Overwrite the b-tree header at the start of pages 3 to 6: their
	// page type and cell counts become nonsense.
	for p := 2; p < 6; p++ {
		copy(data[p*page:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, sqlite.FileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, full := range []bool{false, true} {
		cfg := stoppedConfig(t, bad)
		cfg.Full = full
		r := run(t, cfg)
		c := want(t, r, "database", doctor.Fail, "damaged")
		if !strings.Contains(c.Fix, "restore") {
			t.Fatalf("database fix = %q, want how to restore", c.Fix)
		}
		if slices.Contains(names(r), "outbox") {
			t.Fatalf("doctor read the outbox of a damaged database: %v", names(r))
		}
		if r.Worst() != doctor.Fail {
			t.Fatalf("worst = %s with a damaged database", r.Worst())
		}
	}
}

// TestFreeSpaceFloor: a --min-free above the disk's free space warns.
func TestFreeSpaceFloor(t *testing.T) {
	cfg := stoppedConfig(t, demoDir(t))
	cfg.MinFree = math.MaxInt64
	c := want(t, run(t, cfg), "disk-space", doctor.Warn, "(--min-free)")
	if !strings.Contains(c.Fix, "free space") {
		t.Fatalf("disk fix = %q", c.Fix)
	}
}

// TestDataDirProblems: what a wrong --data or a damaged directory gets.
func TestDataDirProblems(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	readOnly := demoDir(t)
	if err := os.Chmod(filepath.Join(readOnly, sqlite.FileName), 0o400); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, verdict string
	}{
		{"Missing", filepath.Join(t.TempDir(), "nope"), "does not exist"},
		{"NotADirectory", file, "is not a directory"},
		{"NoDatabase", t.TempDir(), "not an edge node's data directory"},
		{"ReadOnlyDatabase", readOnly, "pantry.db cannot be written by its owner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, stoppedConfig(t, tt.dir))
			want(t, r, "data-dir", doctor.Fail, tt.verdict)
			if r.Worst() != doctor.Fail {
				t.Fatalf("worst = %s", r.Worst())
			}
		})
	}
}

// TestRunningNode: a running demo node's listeners answer; the tablets
// check counts a tablet logged in over MQTT; once the node has stopped,
// it is reported so.
func TestRunningNode(t *testing.T) {
	n := edgetest.Start(t)
	cfg := doctor.Config{DataDir: n.Dir, HTTPAddr: n.HTTPAddr().String(), MQTTAddr: n.MQTTAddr().String(), MQTTWSAddr: n.WSAddr,
		Timeout: 10 * time.Second, Version: "test"}
	r := run(t, cfg)
	for _, name := range []string{"node", "http", "mqtt", "mqtt-ws"} {
		want(t, r, name, doctor.OK, "")
	}
	want(t, r, "database", doctor.OK, "sound")
	want(t, r, "tablets", doctor.Warn, "no tablet connected")

	if _, err := edgetest.ConnectAs(t, n.MQTTAddr().String(), "tablet-"+n.Demo.Tablet.Username+"-drinks-t1", n.Demo.Tablet.Username, n.Demo.Tablet.Password); err != nil {
		t.Fatal(err)
	}
	// The broker counts a tablet once its CONNACK is out: a moment after
	// the client has it.
	var c doctor.Check
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c = check(t, run(t, cfg), "tablets"); c.Status == doctor.OK {
			break
		}
	}
	if c.Status != doctor.OK || !strings.Contains(c.Verdict, "1 connected now (drinks: 1)") {
		t.Fatalf("tablets = %s %q, want 1 connected at drinks", c.Status, c.Verdict)
	}

	n.Stop(t)
	r = run(t, cfg)
	want(t, r, "node", doctor.Warn, "node not running")
	if slices.Contains(names(r), "http") {
		t.Fatalf("a stopped node's listeners were checked: %v", names(r))
	}
}

// TestRunningNodeElsewhere: a node that holds its data directory's lock
// but does not answer at --http is a failure, not "stopped": the
// technician has the wrong address, or the node hangs.
func TestRunningNodeElsewhere(t *testing.T) {
	n := edgetest.Start(t)
	r := run(t, stoppedConfig(t, n.Dir))
	c := want(t, r, "node", doctor.Fail, fmt.Sprintf("running (process %d holds the data directory's lock), but http://", os.Getpid()))
	if !strings.Contains(c.Fix, "--http") {
		t.Fatalf("node fix = %q, want --http", c.Fix)
	}
}

// TestAnotherNodesAddress: --http reaches a running node, but not the
// one of --data (which holds no lock): doctor says so.
func TestAnotherNodesAddress(t *testing.T) {
	other := edgetest.Start(t)
	stopped := edgetest.Start(t)
	stopped.Stop(t)
	cfg := stoppedConfig(t, stopped.Dir)
	cfg.HTTPAddr = other.HTTPAddr().String()
	c := want(t, run(t, cfg), "node", doctor.Warn, "it may serve another data directory")
	if !strings.Contains(c.Fix, "--data") {
		t.Fatalf("node fix = %q", c.Fix)
	}
}

// TestHealthzOfAnotherProgram: something other than a node on --http.
func TestHealthzOfAnotherProgram(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				_, _ = c.Read(buf)
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
			}()
		}
	}()
	cfg := stoppedConfig(t, demoDir(t))
	cfg.HTTPAddr = ln.Addr().String()
	want(t, run(t, cfg), "node", doctor.Fail, "another program")
}
