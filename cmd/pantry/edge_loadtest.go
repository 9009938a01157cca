package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pantry/pantry/edge/loadgen"
)

// loadOptions are the flags of `pantry edge loadtest` that every phase shares.
type loadOptions struct {
	url, mqttAddr, demoPath string
	attendees               int
	tablets                 int
	openOrders              int
	liveClients             int
	statusRate              float64
	duration                time.Duration
}

func newEdgeLoadtestCmd(stdout, stderr io.Writer) *cobra.Command {
	var o loadOptions
	var rates []float64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "loadtest",
		Short: "Drive an edge node with concurrent attendees and measure orders/s and order-to-tablet latency",
		Long: `Without --url, starts its own demo node (a child process, limits off) in a
temp dir and measures that, and reports its memory. With --url, drives a
running node; --demo-file gives its site, rooms and tablet login (a
demo.json), and --mqtt its broker. Only point it at nodes on this machine
or your own test network.

--tablets MQTT clients time every order; --open-orders are placed before
each phase and left open; --live-clients attendee order pages stay open
over Server-Sent Events through the phase, and --status-rate staff status
changes a second on their orders are timed until their page shows them.`,
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "", "base URL of a running node (default: start one)")
	f.StringVar(&o.mqttAddr, "mqtt", "", "MQTT address of that node")
	f.StringVar(&o.demoPath, "demo-file", "", "demo.json of that node")
	f.IntVar(&o.attendees, "attendees", 64, "concurrent attendee sessions")
	f.IntVar(&o.tablets, "tablets", 1, "MQTT tablets, each on its own connection, timing every order")
	f.IntVar(&o.openOrders, "open-orders", 0, "orders placed before each phase and left open")
	f.IntVar(&o.liveClients, "live-clients", 0, "attendee order pages held open over Server-Sent Events during each phase")
	f.Float64Var(&o.statusRate, "status-rate", 20, "staff status changes per second on live clients' orders, timed on their streams")
	f.Float64SliceVar(&rates, "rate", []float64{0}, "target orders/s per phase; 0 = as fast as it answers")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "length of each phase")
	f.BoolVar(&asJSON, "json", false, "print results as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		var results []loadgen.Result
		for _, rate := range rates {
			res, err := loadPhase(cmd.Context(), stderr, o, rate)
			if err != nil {
				return fmt.Errorf("load test at rate %v: %w", rate, err)
			}
			results = append(results, res)
			if !asJSON {
				label := "max"
				if rate > 0 {
					label = fmt.Sprintf("%.0f/s", rate)
				}
				fmt.Fprintf(stdout, "rate %s: %s\n", label, res)
			}
		}
		if asJSON {
			return json.NewEncoder(stdout).Encode(map[string]any{"results": results})
		}
		return nil
	}
	return cmd
}

// loadPhase runs one phase. Without a URL each phase gets a fresh node:
// orders are never worked off during a load test, so the open queue (and
// the broker's retained messages) would otherwise carry over and grow.
// The node's memory, files and CPU are then read from its process.
func loadPhase(ctx context.Context, stderr io.Writer, o loadOptions, rate float64) (loadgen.Result, error) {
	var stats func() (loadgen.ProcessStats, error)
	if o.url == "" {
		node, err := spawnNode(ctx, stderr)
		if err != nil {
			return loadgen.Result{}, err
		}
		defer node.stop()
		o.url, o.mqttAddr, o.demoPath = node.url, node.mqtt, filepath.Join(node.dir, "demo.json")
		pid := node.cmd.Process.Pid
		stats = func() (loadgen.ProcessStats, error) { return loadgen.ReadProcessStats(pid) }
	}
	cfg, err := loadgenConfig(o.demoPath)
	if err != nil {
		return loadgen.Result{}, err
	}
	cfg.URL, cfg.MQTTAddr, cfg.Attendees, cfg.Rate, cfg.Duration = o.url, o.mqttAddr, o.attendees, rate, o.duration
	cfg.Tablets, cfg.OpenOrders, cfg.LiveClients, cfg.StatusRate = o.tablets, o.openOrders, o.liveClients, o.statusRate
	cfg.NodeStats = stats
	return loadgen.Run(ctx, cfg)
}

func loadgenConfig(demoPath string) (loadgen.Config, error) {
	var cfg loadgen.Config
	raw, err := os.ReadFile(demoPath)
	if err != nil {
		return cfg, fmt.Errorf("read --demo-file: %w", err)
	}
	var d demoFile
	if err := json.Unmarshal(raw, &d); err != nil {
		return cfg, fmt.Errorf("parse %s: %w", demoPath, err)
	}
	cfg.SiteID, cfg.Username, cfg.Password = d.SiteID, d.Tablet.Username, d.Tablet.Password
	for _, r := range d.Rooms {
		cfg.RoomCodes = append(cfg.RoomCodes, r.Code)
	}
	if len(cfg.RoomCodes) == 0 {
		return cfg, fmt.Errorf("%s lists no rooms", demoPath)
	}
	return cfg, nil
}

type childNode struct {
	cmd            *exec.Cmd
	dir, url, mqtt string
}

// spawnNode starts `pantry edge serve --demo` as a separate process, as in
// production, with the attendee rate limits off (one machine plays a whole
// building from one address).
func spawnNode(ctx context.Context, stderr io.Writer) (*childNode, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own binary: %w", err)
	}
	dir, err := os.MkdirTemp("", "pantry-loadtest-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	addrs := make([]string, 3)
	for i := range addrs {
		if addrs[i], err = freeLoopback(); err != nil {
			return nil, err
		}
	}
	n := &childNode{dir: dir, url: "http://" + addrs[0], mqtt: addrs[1]}
	n.cmd = exec.Command(self, "edge", "serve", "--demo", "--data", dir, "--http", addrs[0], "--mqtt", addrs[1],
		"--mqtt-ws", addrs[2], "--limit-session-orders", "0", "--limit-address-rpm", "0")
	n.cmd.Stdout, n.cmd.Stderr = io.Discard, stderr
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if resp, err := http.Get(n.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.stop()
	return nil, fmt.Errorf("the node did not become ready within 30 s")
}

func (n *childNode) stop() {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = n.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(n.dir)
}

func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
