package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// watchProc is a running `pantry edge tablet watch` process.
type watchProc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	exited         chan struct{}
}

// startWatch starts `pantry edge tablet watch` logged in as the demo
// tablet, the password in PANTRY_TABLET_PASSWORD as the help advises.
func startWatch(tb testing.TB, bin, password string, args ...string) *watchProc {
	tb.Helper()
	w := &watchProc{cmd: exec.Command(bin, append([]string{"edge", "tablet", "watch"}, args...)...),
		stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	w.cmd.Env = append(os.Environ(), "PANTRY_TABLET_PASSWORD="+password)
	w.cmd.Stdout, w.cmd.Stderr = w.stdout, w.stderr
	if err := w.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { _ = w.cmd.Wait(); close(w.exited) }()
	tb.Cleanup(func() {
		_ = w.cmd.Process.Kill()
		<-w.exited
		if tb.Failed() {
			tb.Logf("tablet watch stdout:\n%s\nstderr:\n%s", w.stdout, w.stderr)
		}
	})
	return w
}

// await waits, for a minute at most, until a JSON line satisfies ok.
func (w *watchProc) await(tb testing.TB, what string, ok func(watchLine) bool) watchLine {
	tb.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, raw := range strings.Split(w.stdout.String(), "\n") {
			var l watchLine
			if json.Unmarshal([]byte(raw), &l) == nil && ok(l) {
				return l
			}
		}
		select {
		case <-w.exited:
			tb.Fatalf("tablet watch exited (%v) before %s", w.cmd.ProcessState, what)
		default:
		}
	}
	tb.Fatalf("tablet watch never printed %s", what)
	return watchLine{}
}

// awaitText waits, for a minute at most, until stdout holds want.
func (w *watchProc) awaitText(tb testing.TB, want string) {
	tb.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(w.stdout.String(), want) {
			return
		}
	}
	tb.Fatalf("tablet watch never printed %q", want)
}

// stop interrupts the process as Ctrl-C does and returns its exit code.
func (w *watchProc) stop(tb testing.TB) int {
	tb.Helper()
	if err := w.cmd.Process.Signal(os.Interrupt); err != nil {
		tb.Fatal(err)
	}
	return w.wait(tb)
}

func (w *watchProc) wait(tb testing.TB) int {
	tb.Helper()
	select {
	case <-w.exited:
	case <-time.After(60 * time.Second):
		tb.Fatal("tablet watch still runs a minute later")
	}
	return w.cmd.ProcessState.ExitCode()
}

// TestTabletWatch runs `pantry edge tablet watch` as a real process
// against a real `pantry edge serve --demo`: it shows the open queue the
// broker holds, then an order placed over HTTP and its status change;
// Ctrl-C ends it with 0. --station keeps to one station's lines, --for
// ends it by itself, and a wrong password is refused with exit code 1.
func TestTabletWatch(t *testing.T) {
	bin := buildPantry(t)
	dir, addrs := t.TempDir(), newEdgeAddrs(t)
	p := startEdgeAt(t, bin, dir, addrs)
	site := openDemoSite(t, p, dir)
	waiting := site.placeOrder(t, p.url, 0)
	broker := "tcp://" + addrs.mqtt

	t.Run("JSON", func(t *testing.T) {
		w := startWatch(t, bin, site.Tablet.Password, "--broker", broker, "--username", site.Tablet.Username, "--data", dir, "--json")
		w.await(t, "the waiting order", func(l watchLine) bool {
			return l.OrderID == waiting && l.Kind == "queued" && l.Room == site.Rooms[0].Name && l.Status == "placed"
		})
		placed := site.placeOrder(t, p.url, 1)
		got := w.await(t, "the new order", func(l watchLine) bool { return l.OrderID == placed && l.Kind == "new" })
		if got.Room != site.Rooms[1].Name || got.Status != "placed" || len(got.Lines) != 1 || got.Lines[0].Quantity != 1 || got.Lines[0].Name == "" || got.Lines[0].Station != "drinks" {
			t.Fatalf("new order line = %+v", got)
		}
		site.setStatus(t, p.url, placed, "accepted")
		w.await(t, "the status change", func(l watchLine) bool { return l.OrderID == placed && l.Kind == "update" && l.Status == "accepted" })
		if code := w.stop(t); code != 0 {
			t.Fatalf("exit code %d after Ctrl-C, want 0", code)
		}
		if !strings.Contains(w.stderr.String(), "watching site "+site.SiteID) {
			t.Fatalf("stderr = %q", w.stderr.String())
		}
	})

	t.Run("Text", func(t *testing.T) {
		w := startWatch(t, bin, site.Tablet.Password, "--broker", broker, "--username", site.Tablet.Username, "--site", site.SiteID)
		w.awaitText(t, "queued  #"+shortOrderID(waiting)+"  "+site.Rooms[0].Name+"  placed  1× ")
		if code := w.stop(t); code != 0 {
			t.Fatalf("exit code %d after Ctrl-C, want 0", code)
		}
	})

	t.Run("OtherStation", func(t *testing.T) {
		// The orders are of the menu's first item, a drink: a watch of
		// the food station shows none of them, and --for ends it.
		w := startWatch(t, bin, site.Tablet.Password, "--broker", broker, "--username", site.Tablet.Username, "--data", dir,
			"--station", "food", "--json", "--for", "3s")
		if code := w.wait(t); code != 0 {
			t.Fatalf("exit code %d at the end of --for, want 0 (stderr %q)", code, w.stderr.String())
		}
		if out := w.stdout.String(); out != "" {
			t.Fatalf("the food station saw drinks: %s", out)
		}
	})

	t.Run("WrongPassword", func(t *testing.T) {
		w := startWatch(t, bin, "not-the-password", "--broker", broker, "--username", site.Tablet.Username, "--data", dir)
		if code := w.wait(t); code != 1 {
			t.Fatalf("exit code %d with a wrong password, want 1", code)
		}
		if got := w.stderr.String(); !strings.Contains(got, "the broker refused the login") {
			t.Fatalf("stderr = %q", got)
		}
	})
}

// TestTabletWatchRefusesClearly: bad input is refused before anything
// connects, with a sentence that says what to pass.
func TestTabletWatchRefusesClearly(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"NoUsername", nil, map[string]string{"PANTRY_TABLET_PASSWORD": "pw"}, "pass --username"},
		{"NoPassword", []string{"--username", "u"}, nil, "set PANTRY_TABLET_PASSWORD"},
		{"BadStation", []string{"--username", "u", "--password", "pw", "--station", "Drinks!"}, nil, `--station "Drinks!" is neither "all" nor a station`},
		{"BadBroker", []string{"--username", "u", "--password", "pw", "--broker", "localhost"}, nil, "write it as tcp://HOST:PORT"},
		{"WebSocketBroker", []string{"--username", "u", "--password", "pw", "--broker", "ws://localhost:1884"}, nil, "write it as tcp://HOST:PORT"},
		{"BadSite", []string{"--username", "u", "--password", "pw", "--site", "a/#"}, nil, "--site:"},
		{"NoSite", []string{"--username", "u", "--password", "pw", "--data", filepath.Join(empty, "none")}, nil, "pass --site with the site's id"},
		{"NegativeFor", []string{"--username", "u", "--password", "pw", "--for", "-1s"}, nil, "--for must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := run(ctx, append([]string{"pantry", "edge", "tablet", "watch", "--broker", "tcp://" + freeAddr(t)}, tt.args...),
				func(k string) string { return tt.env[k] }, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// Nothing listens at the broker's address: say so, and what to check.
	var out bytes.Buffer
	err := run(context.Background(), []string{"pantry", "edge", "tablet", "watch", "--broker", "tcp://" + freeAddr(t), "--username", "u", "--password", "pw", "--site", "s"},
		func(string) string { return "" }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the broker") || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want cannot reach the broker", err)
	}
}
