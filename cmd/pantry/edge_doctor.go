package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pantry/pantry/edge/doctor"
	"github.com/pantry/pantry/internal/buildinfo"
)

const doctorLong = `Check this edge node the way a technician on site would, one line per
check: its data directory (owner, permissions) and free disk space, the
database's integrity (SQLite quick_check; --full for integrity_check), its
WAL, whether the node runs, and if it does its HTTP and MQTT listeners
and the tablets connected now, the age of its outbox, and for an enrolled
node the way to the cloud step by step (DNS, TCP, TLS, credential
accepted), the clock against the cloud's, the dead letters the cloud holds
for this node and the cloud's version against this one.

It works on a stopped node, reading its files without writing or creating
any (run it as root or as the node's user), and on a running one, which it
also asks over HTTP (/healthz, /readyz, /metrics) and TCP at the addresses
edge serve uses (the same flags and PANTRY_* variables).

Each line reads STATUS  CHECK  verdict — fix, then a summary.

Exit codes:
  0  every check ok
  1  at least one check failed, or doctor could not run (a bad flag)
  2  warnings only`

// newEdgeDoctorCmd is `pantry edge doctor`: the checks live in edge/doctor,
// this prints them.
func newEdgeDoctorCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	var cfg doctor.Config
	var minFree string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check this node: disk, database, listeners, tablets, outbox and the way to the cloud",
		Long:  doctorLong,
		Args:  cobra.NoArgs,
	}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	dataDir(e, &cfg.DataDir, "the node's data directory")
	e.String(&cfg.HTTPAddr, "http", "PANTRY_HTTP_ADDR", ":8080", "the running node's HTTP address")
	e.String(&cfg.MQTTAddr, "mqtt", "PANTRY_MQTT_ADDR", ":1883", "the running node's MQTT (TCP) address")
	e.String(&cfg.MQTTWSAddr, "mqtt-ws", "PANTRY_MQTT_WS_ADDR", ":1884", "the running node's MQTT over WebSocket address (empty: not checked)")
	e.String(&cfg.CloudURL, "cloud", "PANTRY_CLOUD_URL", "", "the cloud's URL (default: the one given to pantry edge init)")
	e.String(&minFree, "min-free", "PANTRY_DOCTOR_MIN_FREE", "1GiB", "warn when the data disk has less free space than this (it fails under 64MiB, where orders are at risk)")
	e.Duration(&cfg.Timeout, "timeout", "PANTRY_DOCTOR_TIMEOUT", 5*time.Second, "how long each network step may take")
	cmd.Flags().BoolVar(&cfg.Full, "full", false, "run SQLite's integrity_check (slower, also checks every index) instead of quick_check")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print JSON: {"status":…,"checks":[{"name","status","verdict","fix"}]}`)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		var err error
		if cfg.MinFree, err = doctor.ParseBytes(minFree); err != nil {
			return fmt.Errorf("--min-free: %w", err)
		}
		if cfg.Timeout <= 0 {
			return errors.New("--timeout must be positive, e.g. 5s")
		}
		cfg.Version = buildinfo.Version()
		report, err := doctor.Run(cmd.Context(), cfg)
		if err != nil {
			return fmt.Errorf("doctor: %w", err)
		}
		if err := printDoctor(stdout, report, asJSON); err != nil {
			return err
		}
		return doctorExit(report)
	}
	return cmd
}

// printDoctor prints one line per check and a summary, or JSON.
func printDoctor(w io.Writer, r doctor.Report, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(struct {
			Status doctor.Status  `json:"status"`
			Checks []doctor.Check `json:"checks"`
		}{r.Worst(), r.Checks})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range r.Checks {
		line := c.Verdict
		if c.Fix != "" {
			line += " — " + c.Fix
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Status, c.Name, line)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("doctor: %w", err)
	}
	_, err := fmt.Fprintf(w, "\n%d ok, %d warn, %d fail\n", r.Count(doctor.OK), r.Count(doctor.Warn), r.Count(doctor.Fail))
	return err
}

// doctorExit is the command's outcome: nil when every check is ok, else
// an exit code as the Long help documents.
func doctorExit(r doctor.Report) error {
	switch r.Worst() {
	case doctor.Fail:
		return &exitError{code: 1, msg: fmt.Sprintf("doctor: %s failed", plural(r.Count(doctor.Fail), "check"))}
	case doctor.Warn:
		return &exitError{code: 2, msg: fmt.Sprintf("doctor: %s with a warning", plural(r.Count(doctor.Warn), "check"))}
	}
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
