package edge

import (
	"errors"
	"fmt"
	"strconv"
)

// advertisedWSPort is the port of cfg.MQTTWSAdvertise, 0 if it is empty
// (the staff app then uses the listener's own port). Browsers behind a
// TLS-terminating proxy or a port forward reach the broker on another
// port than the one it listens on, and the staff page must name that
// port, in its script's settings and in its Content-Security-Policy: a
// wrong one leaves every tablet without live updates, so a value that is
// not a port stops the node at start-up.
func advertisedWSPort(cfg Config) (int, error) {
	if cfg.MQTTWSAdvertise == "" {
		return 0, nil
	}
	if cfg.MQTTWSAddr == "" {
		return 0, errors.New("--mqtt-ws-advertise is set but MQTT over WebSocket is off (--mqtt-ws is empty): set --mqtt-ws, or drop --mqtt-ws-advertise")
	}
	port, err := strconv.Atoi(cfg.MQTTWSAdvertise)
	if err != nil || port < 1 || port > 65535 {
		return 0, fmt.Errorf("--mqtt-ws-advertise %q is not a port: give the port (1-65535) the staff app's browsers reach the MQTT WebSocket listener on, or leave it empty for the --mqtt-ws port", cfg.MQTTWSAdvertise)
	}
	return port, nil
}
