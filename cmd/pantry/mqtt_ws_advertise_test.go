package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestServeChecksAdvertisedWSPort: --mqtt-ws-advertise and its
// PANTRY_MQTT_WS_ADVERTISE twin reach the node, which refuses at start-up
// a value that is not a port, saying which setting is wrong.
func TestServeChecksAdvertisedWSPort(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"Flag", []string{"--mqtt-ws-advertise", "70000"}, nil},
		{"Environment", nil, map[string]string{"PANTRY_MQTT_WS_ADVERTISE": "70000"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"pantry", "edge", "serve", "--demo", "--data", t.TempDir(), "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--mqtt-ws", freeAddr(t)}, tt.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out bytes.Buffer
			err := run(ctx, args, func(k string) string { return tt.env[k] }, &out, &out)
			if want := `--mqtt-ws-advertise "70000" is not a port`; err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err=%v, want one containing %q", err, want)
			}
		})
	}
}
