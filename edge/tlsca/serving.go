package tlsca

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

const servingFile = "serving.json"

// Serving is how a node last served, written to DIR/tls/serving.json at
// each start. The technician's commands (`pantry edge tls status`,
// `pantry edge qr`) read the data directory, not the running node, and
// the node's flags may live in a unit file they cannot see: this record
// tells them whether TLS is on, which certificate is served and the URL
// phones are sent to.
type Serving struct {
	TLS bool `json:"tls"`
	// Source is "site-ca" or "operator" (see Info), "" with TLS off.
	Source   string `json:"source,omitempty"`
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
	// The bound listen addresses; "" for a listener that is off.
	HTTP   string `json:"http,omitempty"`
	HTTPS  string `json:"https,omitempty"`
	MQTT   string `json:"mqtt,omitempty"`
	MQTTS  string `json:"mqtts,omitempty"`
	MQTTWS string `json:"mqtt_ws,omitempty"`
	// HTTPLanding: plain HTTP still serves the attendee pages.
	HTTPLanding bool `json:"http_landing,omitempty"`
	// PublicURL is the base URL of the QR codes.
	PublicURL string    `json:"public_url"`
	StartedAt time.Time `json:"started_at"`
}

// WriteServing records s in dataDir.
func WriteServing(dataDir string, s Serving) error {
	if err := os.MkdirAll(Dir(dataDir), 0o700); err != nil {
		return fmt.Errorf("record serving settings: %w", err)
	}
	body, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("record serving settings: %w", err)
	}
	return writeFileAtomic(filepath.Join(Dir(dataDir), servingFile), append(body, '\n'), 0o644)
}

// ReadServing reads what the node last recorded; ok is false if no node
// has served from dataDir since TLS support came.
func ReadServing(dataDir string) (s Serving, ok bool, err error) {
	body, err := os.ReadFile(filepath.Join(Dir(dataDir), servingFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Serving{}, false, nil
	}
	if err != nil {
		return Serving{}, false, fmt.Errorf("read serving settings: %w", err)
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return Serving{}, false, fmt.Errorf("read %s: %w", filepath.Join(Dir(dataDir), servingFile), err)
	}
	return s, true, nil
}
