package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pantry/pantry/internal/testport"
)

// built is the real binary, built once per test binary run into a
// directory TestMain removes.
var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

// buildPantry builds the real binary once per test binary run: linking
// it takes seconds, and every process test needs the same one.
func buildPantry(tb testing.TB) string {
	tb.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "pantry-test-bin-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "pantry")
		if out, err := exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		tb.Fatal(built.err)
	}
	return built.bin
}

// removeBuilt removes the binary buildPantry built, if it did.
func removeBuilt() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	return testport.Addr(tb)
}

// proc is a process a test spawned.
type proc struct {
	cmd *exec.Cmd
	url string
}

func call(tb testing.TB, method, url, token string, body any, headers ...string) (int, map[string]any) {
	tb.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestOrderSurvivesKill9 places orders against a real process, kills it
// with SIGKILL right after the 201s, restarts it and finds every order,
// its stock movement and its outbox events.
func TestOrderSurvivesKill9(t *testing.T) {
	bin := buildPantry(t)
	dir, addrs := t.TempDir(), newEdgeAddrs(t)
	p := startEdgeAt(t, bin, dir, addrs)
	var demo struct {
		Rooms  []struct{ Code string }
		Tablet struct{ Username, Password string }
	}
	raw, err := os.ReadFile(filepath.Join(dir, "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(raw, &demo)
	_, sess := call(t, "POST", p.url+"/api/v1/sessions", "", map[string]string{"space_code": demo.Rooms[0].Code})
	token, _ := sess["token"].(string)
	_, menu := call(t, "GET", p.url+"/api/v1/menu", token, nil)
	item := menu["items"].([]any)[0].(map[string]any)["id"].(string)
	_, staffLogin := call(t, "POST", p.url+"/api/v1/staff/login", "", map[string]string{"username": demo.Tablet.Username, "password": demo.Tablet.Password})
	staff := staffLogin["token"].(string)
	levelBefore := stockLevel(t, p.url, staff, item)

	var ids []string
	for i := range 20 {
		status, o := call(t, "POST", p.url+"/api/v1/orders", token,
			map[string]any{"lines": []map[string]any{{"item_id": item, "quantity": 1}}}, "Idempotency-Key", fmt.Sprint("k", i))
		if status != http.StatusCreated {
			t.Fatalf("order %d: %d %v", i, status, o)
		}
		ids = append(ids, o["id"].(string))
	}
	p.kill9(t)

	p = startEdgeAt(t, bin, dir, addrs)
	for _, id := range ids {
		if status, o := call(t, "GET", p.url+"/api/v1/orders/"+id, token, nil); status != http.StatusOK || o["status"] != "placed" {
			t.Fatalf("order %s after kill -9: %d %v", id, status, o)
		}
	}
	if got, want := stockLevel(t, p.url, staff, item), levelBefore-20; got != want {
		t.Fatalf("stock level after kill -9 = %v, want %v", got, want)
	}
	out, err := exec.Command(bin, "edge", "outbox", "--data", dir, "--json").Output()
	if err != nil {
		t.Fatalf("pantry edge outbox: %v", err)
	}
	var ob struct {
		Events []struct {
			Seq      int64
			Type     string
			EntityID string `json:"entity_id"`
		}
	}
	if err := json.Unmarshal(out, &ob); err != nil {
		t.Fatalf("outbox json: %v\n%s", err, out)
	}
	placed := map[string]bool{}
	for i, e := range ob.Events {
		if e.Seq != int64(i+1) {
			t.Fatalf("outbox seq gap at %d: %d", i, e.Seq)
		}
		if e.Type == "order.placed" {
			placed[e.EntityID] = true
		}
	}
	for _, id := range ids {
		if !placed[id] {
			t.Fatalf("order %s has no order.placed event after kill -9", id)
		}
	}
}

func stockLevel(tb testing.TB, url, staff, item string) float64 {
	tb.Helper()
	_, st := call(tb, "GET", url+"/api/v1/staff/stock", staff, nil)
	for _, it := range st["items"].([]any) {
		m := it.(map[string]any)
		if m["item_id"] == item {
			return m["level"].(float64)
		}
	}
	tb.Fatalf("no stock level for %s", item)
	return 0
}

// TestServeRefusesClearly checks the start-up errors a technician meets.
func TestServeRefusesClearly(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	// A data dir beneath a regular file cannot be created, even by root.
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"PortInUse", []string{"--demo", "--http", busy.Addr().String()}, "already in use"},
		{"MQTTPortInUse", []string{"--demo", "--mqtt", busy.Addr().String()}, "pass --mqtt with another"},
		{"MQTTWebSocketPortInUse", []string{"--demo", "--mqtt-ws", busy.Addr().String()}, "pass --mqtt-ws with another"},
		{"NoSite", []string{}, "no site configuration"},
		{"UnusableDataDir", []string{"--demo", "--data", filepath.Join(file, "data")}, "cannot be used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"pantry", "edge", "serve", "--data", t.TempDir(), "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--mqtt-ws", freeAddr(t)}, tt.args...)
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := run(ctx, args, func(string) string { return "" }, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err=%v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestEnvironmentConfiguresServe: every flag has a PANTRY_* twin, and an
// explicit flag wins over it.
func TestEnvironmentConfiguresServe(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	env := map[string]string{
		"PANTRY_DATA": t.TempDir(), "PANTRY_DEMO": "true", "PANTRY_HTTP_ADDR": busy.Addr().String(),
		"PANTRY_MQTT_ADDR": "127.0.0.1:0", "PANTRY_MQTT_WS_ADDR": freeAddr(t),
	}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	err = run(ctx, []string{"pantry", "edge", "serve"}, getenv, &out, &out)
	if err == nil || !strings.Contains(err.Error(), busy.Addr().String()+" is already in use") {
		t.Fatalf("PANTRY_HTTP_ADDR ignored? err=%v", err)
	}
	if _, err := os.Stat(filepath.Join(env["PANTRY_DATA"], "pantry.db")); err != nil {
		t.Fatalf("PANTRY_DATA ignored: %v", err)
	}
	env["PANTRY_LIMIT_SESSION_ORDERS"] = "lots"
	if err := run(ctx, []string{"pantry", "edge", "serve"}, getenv, &out, &out); err == nil || !strings.Contains(err.Error(), "PANTRY_LIMIT_SESSION_ORDERS") {
		t.Fatalf("a malformed variable was not reported: %v", err)
	}
}

// TestListenersSwitchedOffByEnvironment: an environment file cannot give
// an empty value (it reads as unset), so "off" switches the MQTT
// WebSocket listener off, in any case, from the environment or the flag.
func TestListenersSwitchedOffByEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  string
		args []string
	}{
		{"Environment", "off", nil},
		{"EnvironmentAnyCase", " OFF ", nil},
		{"Flag", "", []string{"--mqtt-ws", "off"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"PANTRY_DATA": t.TempDir(), "PANTRY_DEMO": "true", "PANTRY_HTTP_ADDR": freeAddr(t),
				"PANTRY_MQTT_ADDR": "127.0.0.1:0", "PANTRY_MQTT_WS_ADDR": tc.env}
			ctx, cancel := context.WithCancel(context.Background())
			var out syncBuffer
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, append([]string{"pantry", "edge", "serve"}, tc.args...), func(k string) string { return env[k] }, &out, &out)
			}()
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(out.String(), "edge node serving") {
				if time.Now().After(deadline) {
					cancel()
					t.Fatalf("the node did not start within 30 s:\n%s", out.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("serve: %v\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), `mqtt_ws=""`) {
				t.Fatalf("the MQTT WebSocket listener was not switched off:\n%s", out.String())
			}
		})
	}
}
