package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/edgetest"
)

// doctorOutput is `pantry edge doctor --json`'s output.
type doctorOutput struct {
	Status string        `json:"status"`
	Checks []doctorCheck `json:"checks"`
}

type doctorCheck struct {
	Name, Status, Verdict, Fix string
}

// check returns the named check, failing the test if there is none.
func (o doctorOutput) check(tb testing.TB, name string) doctorCheck {
	tb.Helper()
	for _, c := range o.Checks {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("no %s check in %+v", name, o.Checks)
	return doctorCheck{}
}

// want insists that the named check has status and says verdict.
func (o doctorOutput) want(tb testing.TB, name, status, verdict string) doctorCheck {
	tb.Helper()
	c := o.check(tb, name)
	if c.Status != status || !strings.Contains(c.Verdict, verdict) {
		tb.Fatalf("%s = %s %q (fix %q), want %s with %q", name, c.Status, c.Verdict, c.Fix, status, verdict)
	}
	return c
}

func (o doctorOutput) has(name string) bool {
	return slices.ContainsFunc(o.Checks, func(c doctorCheck) bool { return c.Name == name })
}

// runDoctor runs the real binary's `pantry edge doctor --json` and
// returns what it printed and its exit code.
func runDoctor(tb testing.TB, bin string, args ...string) (doctorOutput, int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"edge", "doctor", "--json", "--timeout", "20s"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		tb.Fatalf("pantry edge doctor: %v", err)
	}
	var out doctorOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		tb.Fatalf("pantry edge doctor --json: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	want := map[string]int{"ok": 0, "fail": 1, "warn": 2}[out.Status]
	if code != want {
		tb.Fatalf("pantry edge doctor exited %d with status %s, want %d (stderr %q)", code, out.Status, want, stderr.String())
	}
	return out, code
}

func listNames(tb testing.TB, dir string) []string {
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

// stopEdgeProc stops the process as its service manager would (SIGTERM)
// and waits until it has exited.
func stopEdgeProc(tb testing.TB, p *edgeProc) {
	tb.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		tb.Fatal("the edge process outlived SIGTERM by 60 s")
	}
}

// TestDoctorDemoNode runs `pantry edge doctor` against a real `pantry
// edge serve --demo` process: running, its listeners answer, and a tablet
// logged in over MQTT is counted; then stopped, where doctor reads the
// files, says the node is not running and how to start it, exits 2 (a
// warning) and leaves the data directory as it was.
func TestDoctorDemoNode(t *testing.T) {
	bin := buildPantry(t)
	dir, addrs := t.TempDir(), newEdgeAddrs(t)
	p := startEdgeAt(t, bin, dir, addrs)
	site := openDemoSite(t, p, dir)
	listeners := []string{"--data", dir, "--http", addrs.http, "--mqtt", addrs.mqtt, "--mqtt-ws", addrs.ws}

	t.Run("Running", func(t *testing.T) {
		if _, err := edgetest.ConnectAs(t, addrs.mqtt, "tablet-"+site.Tablet.Username+"-all-doctor", site.Tablet.Username, site.Tablet.Password); err != nil {
			t.Fatal(err)
		}
		// The broker counts a tablet a moment after its CONNACK.
		var out doctorOutput
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if out, _ = runDoctor(t, bin, listeners...); out.check(t, "tablets").Status == "ok" {
				break
			}
		}
		out.want(t, "tablets", "ok", "1 connected now (all: 1)")
		out.want(t, "node", "ok", "running")
		out.want(t, "http", "ok", "ready")
		out.want(t, "mqtt", "ok", addrs.mqtt+" takes connections")
		out.want(t, "mqtt-ws", "ok", addrs.ws+" takes connections")
		out.want(t, "database", "ok", "sound")
		out.want(t, "cloud", "ok", "not enrolled")
		if out.Status != "ok" {
			t.Fatalf("doctor of a healthy demo node: %+v", out)
		}
	})

	t.Run("Stopped", func(t *testing.T) {
		stopEdgeProc(t, p)
		before := listNames(t, dir)
		out, code := runDoctor(t, bin, listeners...)
		c := out.want(t, "node", "warn", "node not running: listeners not checked")
		if !strings.Contains(c.Fix, "systemctl start pantry-edge") {
			t.Fatalf("node fix = %q", c.Fix)
		}
		if code != 2 {
			t.Fatalf("exit code %d, want 2 (warnings only)", code)
		}
		for _, name := range []string{"http", "mqtt", "tablets"} {
			if out.has(name) {
				t.Fatalf("a stopped node got a %s check: %+v", name, out.Checks)
			}
		}
		out.want(t, "database", "ok", "sound")
		out.want(t, "wal", "ok", "stopped cleanly")
		if after := listNames(t, dir); !slices.Equal(after, before) {
			t.Fatalf("doctor changed the data directory: %v, was %v", after, before)
		}
	})
}

// TestDoctorText: the text form has one line per check (status, name,
// verdict — fix) and a summary.
func TestDoctorText(t *testing.T) {
	n := edgetest.Start(t)
	n.Stop(t)
	var out bytes.Buffer
	err := run(context.Background(), []string{"pantry", "edge", "doctor", "--data", n.Dir, "--http", freeAddr(t)}, func(string) string { return "" }, &out, &out)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("err = %v, want exit code 2\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{"ok    database  ", "warn  node  ", "node not running: listeners not checked (nothing answers http://", ") — systemctl start pantry-edge", "ok, 1 warn, 0 fail\n"} {
		if !strings.Contains(text, want) {
			t.Fatalf("doctor output lacks %q:\n%s", want, text)
		}
	}
}

// TestDoctorRefusesClearly: bad flags and variables are refused before any
// check runs, with exit code 1.
func TestDoctorRefusesClearly(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"MinFree", []string{"--min-free", "lots"}, nil, `--min-free: "lots" is not a size: write it like 1GiB`},
		{"MinFreeVariable", nil, map[string]string{"PANTRY_DOCTOR_MIN_FREE": "-3G"}, `--min-free: "-3G" is not a size`},
		{"Timeout", []string{"--timeout", "0s"}, nil, "--timeout must be positive"},
		{"TimeoutVariable", nil, map[string]string{"PANTRY_DOCTOR_TIMEOUT": "soon"}, "PANTRY_DOCTOR_TIMEOUT"},
		{"Argument", []string{"extra"}, nil, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			args := append([]string{"pantry", "edge", "doctor", "--data", dir}, tt.args...)
			err := run(context.Background(), args, func(k string) string { return tt.env[k] }, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			var ee *exitError
			if errors.As(err, &ee) {
				t.Fatalf("a refused flag ran the checks: %v", err)
			}
			if out.Len() != 0 && strings.Contains(out.String(), "data-dir") {
				t.Fatalf("checks ran: %s", out.String())
			}
		})
	}
	// A wrong --data is a finding, not a refusal: doctor says so and fails.
	var out bytes.Buffer
	err := run(context.Background(), []string{"pantry", "edge", "doctor", "--data", filepath.Join(dir, "typo"), "--http", freeAddr(t), "--json"},
		func(string) string { return "" }, &out, &out)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(out.String(), "does not exist") {
		t.Fatalf("doctor of a missing data dir: %v\n%s", err, out.String())
	}
}

// TestDoctorEnrolledNode: against an enrolled edge and a real cloud on
// PostgreSQL, every step to the cloud passes and the credential is
// accepted; once an admin revokes the node, doctor says the credential is
// refused and to re-enroll with `pantry edge init`.
func TestDoctorEnrolledNode(t *testing.T) {
	w := newWorld(t)
	w.start(1)
	e := w.edges[0]
	args := []string{"--data", e.dir, "--http", e.http, "--mqtt", e.mqtt, "--mqtt-ws", ""}
	status, sess := call(t, "POST", e.url()+"/api/v1/sessions", "", map[string]string{"space_code": e.rooms[0]})
	token, _ := sess["token"].(string)
	if status != http.StatusCreated || token == "" {
		t.Fatalf("open a session: %d %v", status, sess)
	}
	if status, o := call(t, "POST", e.url()+"/api/v1/orders", token,
		map[string]any{"lines": []map[string]any{{"item_id": w.items[0], "quantity": 1}}}, "Idempotency-Key", "doctor-1"); status != http.StatusCreated {
		t.Fatalf("place an order: %d %v", status, o)
	}

	out, _ := runDoctor(t, w.bin, args...)
	out.want(t, "node", "ok", "running")
	out.want(t, "outbox", "ok", "") // pushed by now, or waiting a few seconds: both fine
	out.want(t, "cloud-dns", "ok", "is an address")
	out.want(t, "cloud-tcp", "ok", "connected to 127.0.0.1:")
	out.want(t, "cloud-tls", "ok", "plain HTTP to this machine")
	out.want(t, "cloud-credential", "ok", "accepted: node ")
	out.want(t, "clock", "ok", "the cloud's")
	out.want(t, "dead-letters", "ok", "no dead letters")
	out.want(t, "version", "ok", "this edge and the cloud both run")
	if out.has("mqtt-ws") {
		t.Fatalf("--mqtt-ws \"\" was checked: %+v", out.Checks)
	}

	_, nodes := w.api("GET", "/api/v1/nodes", nil, 200)
	list, _ := nodes["nodes"].([]any)
	if len(list) != 1 {
		t.Fatalf("nodes: %v", nodes)
	}
	id, _ := list[0].(map[string]any)["id"].(string)
	w.api("DELETE", "/api/v1/nodes/"+id, nil, 200)

	out, code := runDoctor(t, w.bin, args...)
	c := out.want(t, "cloud-credential", "fail", "credential refused")
	if !strings.Contains(c.Fix, "re-enroll with pantry edge init") {
		t.Fatalf("credential fix = %q", c.Fix)
	}
	if code != 1 {
		t.Fatalf("exit code %d with a refused credential, want 1", code)
	}
	if out.has("clock") || out.has("version") {
		t.Fatalf("checks that need the credential ran without it: %+v", out.Checks)
	}
}
