package edge_test

import (
	"strings"
	"testing"

	"github.com/pantry/pantry/edge"
)

// TestAdvertisedWSPortIsChecked: a node refuses to start with an
// advertised WebSocket port that is not one, or with no listener to
// advertise.
func TestAdvertisedWSPortIsChecked(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, advertise, ws, want string
	}{
		{"NotANumber", "wss", "127.0.0.1:0", `--mqtt-ws-advertise "wss" is not a port`},
		{"Zero", "0", "127.0.0.1:0", `--mqtt-ws-advertise "0" is not a port`},
		{"TooBig", "65536", "127.0.0.1:0", `--mqtt-ws-advertise "65536" is not a port`},
		{"AnAddress", "proxy:443", "127.0.0.1:0", `--mqtt-ws-advertise "proxy:443" is not a port`},
		{"NoListener", "443", "", "MQTT over WebSocket is off"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := edge.New(t.Context(), edge.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
				MQTTWSAddr: tt.ws, MQTTWSAdvertise: tt.advertise, Demo: true})
			if err == nil {
				n.Close()
				t.Fatalf("edge.New with MQTTWSAdvertise %q succeeded", tt.advertise)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err=%v, want one containing %q", err, tt.want)
			}
		})
	}
}
