package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/edge/web"
)

func newEdgeCmd(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "edge", Short: "Run and look after a building's edge node"}
	cmd.AddCommand(newEdgeServeCmd(getenv, stdout, stderr), newEdgeOutboxCmd(getenv, stdout), newEdgeTabletCmd(getenv, stdout), newEdgeLoadtestCmd(stdout, stderr), newEdgeQRCmd(getenv, stdout), newEdgeInitCmd(getenv, stdout), newEdgeStatusCmd(getenv, stdout))
	cmd.AddCommand(newEdgeDoctorCmd(getenv, stdout))
	cmd.AddCommand(newEdgeBackupCmd(getenv, stdout), newEdgeRestoreCmd(getenv, stdout))
	cmd.AddCommand(newEdgeTLSCmd(getenv, stdout, stderr))
	return cmd
}

// dataDir binds --data, the data directory every `pantry edge` command
// works on; usage says what the command does with it.
func dataDir(e *env, p *string, usage string) {
	e.String(p, "data", "PANTRY_DATA", "./pantry-data", usage)
}

func newEdgeServeCmd(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	var cfg edge.Config
	var jsonLogs bool
	var escalate string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the building: attendee pages, staff API, MQTT broker",
	}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	dataDir(e, &cfg.DataDir, "data directory")
	e.String(&cfg.HTTPAddr, "http", "PANTRY_HTTP_ADDR", ":8080", "HTTP listen address")
	e.String(&cfg.MQTTAddr, "mqtt", "PANTRY_MQTT_ADDR", ":1883", "MQTT (TCP) listen address")
	e.Listen(&cfg.MQTTWSAddr, "mqtt-ws", "PANTRY_MQTT_WS_ADDR", ":1884", "MQTT over WebSocket listen address")
	e.String(&cfg.MQTTWSAdvertise, "mqtt-ws-advertise", "PANTRY_MQTT_WS_ADVERTISE", "", "port the staff app's browsers reach the MQTT WebSocket listener on, behind a proxy or port forward (default: the --mqtt-ws port)")
	e.String(&cfg.PublicURL, "public-url", "PANTRY_PUBLIC_URL", "", "base URL printed in QR codes (default http://LAN-ADDRESS:PORT, or https://LAN-ADDRESS:HTTPS-PORT with --tls on)")
	e.Bool(&cfg.Demo, "demo", "PANTRY_DEMO", false, "seed a demo site on first start")
	e.Duration(&cfg.SessionTTL, "session-ttl", "PANTRY_SESSION_TTL", 3*time.Hour, "attendee session lifetime")
	e.Int(&cfg.SessionOrders, "limit-session-orders", "PANTRY_LIMIT_SESSION_ORDERS", 30, "max orders per attendee session per 10 minutes (0 disables)")
	e.Int(&cfg.AddressRPM, "limit-address-rpm", "PANTRY_LIMIT_ADDRESS_RPM", 600, "max requests per client address per minute (0 disables)")
	e.String(&cfg.CloudURL, "cloud", "PANTRY_CLOUD_URL", "", "the cloud's URL (default: the one given to `pantry edge init`)")
	e.Duration(&cfg.SyncMaxBackoff, "sync-max-backoff", "PANTRY_SYNC_MAX_BACKOFF", 30*time.Second, "longest wait between failed sync attempts")
	e.Duration(&cfg.StaffAbsentAfter, "staff-absent-after", "PANTRY_STAFF_ABSENT_AFTER", 2*time.Minute, "alert (staff.absent) when a station's open orders have had no tablet connected this long")
	e.String(&escalate, "escalate", "PANTRY_ESCALATE", web.DefaultEscalations().String(),
		"when the staff app's tickets turn amber/red, per station (\"*\" for the others): STATION=AMBER/RED,...")
	e.Duration(&cfg.RingRepeat, "staff-ring-every", "PANTRY_STAFF_RING_EVERY", 30*time.Second, "how often a tablet set to ring until accepted rings again")
	e.Bool(&jsonLogs, "log-json", "PANTRY_LOG_JSON", false, "log as JSON")
	tlsf := addTLSFlags(e, &cfg.TLS)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		var err error
		if cfg.Escalations, err = web.ParseEscalations(escalate); err != nil {
			return fmt.Errorf("--escalate: %w", err)
		}
		if err := tlsf.apply(&cfg.TLS); err != nil {
			return err
		}
		cfg.Log = newLogger(stderr, jsonLogs)
		n, err := edge.New(cmd.Context(), cfg)
		if err != nil {
			return err
		}
		if d := n.Demo(); d != nil {
			if err := printDemo(stdout, cfg.DataDir, n.PublicURL(), d); err != nil {
				n.Close()
				return err
			}
		}
		printTLSHint(stdout, cfg.DataDir, n)
		return n.Run(cmd.Context())
	}
	return cmd
}

// demoFile is DIR/demo.json: what a script or test needs to use the demo.
type demoFile struct {
	OrgID  string     `json:"org_id"`
	SiteID string     `json:"site_id"`
	Rooms  []demoRoom `json:"rooms"`
	Tablet struct {
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"tablet"`
	Coupon   string `json:"coupon"`
	StaffURL string `json:"staff_url"`
}

type demoRoom struct {
	Name string `json:"name"`
	Code string `json:"code"`
	URL  string `json:"url"`
}

func printDemo(w io.Writer, dir, base string, d *sqlite.Demo) error {
	f := demoFile{OrgID: d.OrgID, SiteID: d.SiteID, Coupon: d.Coupon}
	f.Tablet.Username, f.Tablet.Password = d.Tablet.Username, d.Tablet.Password
	fmt.Fprintf(w, "Demo site ready. Rooms (open on a phone, or print as QR codes):\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range d.Rooms {
		room := demoRoom{Name: r.Name, Code: r.Code, URL: base + "/q/" + r.Code}
		f.Rooms = append(f.Rooms, room)
		fmt.Fprintf(tw, "  %s\t%s\n", room.Name, room.URL)
	}
	tw.Flush()
	f.StaffURL = base + "/staff"
	fmt.Fprintf(w, "Staff app (a tablet or laptop on the same network): %s\n", f.StaffURL)
	fmt.Fprintf(w, "Tablet login: %s / %s   Coupon: %s   Cost center: CC-1001\n", f.Tablet.Username, f.Tablet.Password, f.Coupon)
	body, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("write demo.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "demo.json"), append(body, '\n'), 0o600); err != nil {
		return fmt.Errorf("write demo.json: %w", err)
	}
	return nil
}
