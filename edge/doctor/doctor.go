// Package doctor checks an edge node the way a technician on site would:
// its data directory and disk, its database, whether it runs and what its
// listeners and tablets say, its outbox, and the way to the cloud step by
// step. Each check ends in one verdict and, when something is wrong, the
// fix in words. It works on a stopped node (it reads the files, never
// writing or creating one) and on a running one (it also asks it over
// HTTP, /healthz, /readyz and /metrics, and TCP).
package doctor

import (
	"context"
	"crypto/x509"
	"net"
	"slices"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
)

// Status is a check's outcome.
type Status string

// The outcomes, from best to worst.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

func (s Status) rank() int {
	switch s {
	case Fail:
		return 2
	case Warn:
		return 1
	}
	return 0
}

// Check is one check's result: a one-line verdict, and the fix in words
// when the status is not OK.
type Check struct {
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Verdict string `json:"verdict"`
	Fix     string `json:"fix,omitempty"`
}

// Report is every check, in the order they ran.
type Report struct {
	Checks []Check `json:"checks"`
}

// Worst is the worst status of the report (OK for none).
func (r Report) Worst() Status {
	worst := OK
	for _, c := range r.Checks {
		if c.Status.rank() > worst.rank() {
			worst = c.Status
		}
	}
	return worst
}

// Count returns how many checks ended in s.
func (r Report) Count(s Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == s {
			n++
		}
	}
	return n
}

// Config says what to check and how.
type Config struct {
	// DataDir is the node's data directory.
	DataDir string
	// MinFree is the free space on the data disk below which doctor
	// warns (it fails below FailFree, where orders are at risk).
	MinFree uint64
	// Full runs integrity_check instead of the quicker quick_check.
	Full bool
	// HTTPAddr, MQTTAddr and MQTTWSAddr are where the running node
	// listens, as given to `pantry edge serve` (":8080" is probed on
	// this machine). MQTTWSAddr "" means the node runs without it.
	HTTPAddr, MQTTAddr, MQTTWSAddr string
	// CloudURL replaces the URL stored at enrollment, as serve's --cloud.
	CloudURL string
	// Timeout bounds each network step (default 5 s).
	Timeout time.Duration
	// Version is this build's version, compared with the cloud's.
	Version string
	// RootCAs are the certificates the cloud's is checked against (nil:
	// the system's).
	RootCAs *x509.CertPool
	// Resolver looks up the cloud's host (nil: net.DefaultResolver).
	Resolver *net.Resolver
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Run runs every check that applies and returns them all; it never stops
// at the first problem, except that the cloud's steps stop at the first
// that fails (no TLS check without a TCP connection). It returns an error
// only when ctx ends.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	d := &doctor{cfg: cfg}
	d.files(ctx)
	var db *sqlite.Reader
	if d.dirOK {
		db = d.database(ctx)
	}
	if db != nil {
		defer db.Close()
	}
	running := d.node(ctx, db)
	d.wal(running)
	if running {
		d.listeners(ctx)
	}
	if db != nil {
		d.store(ctx, db)
	}
	slices.SortStableFunc(d.report.Checks, func(a, b Check) int {
		return slices.Index(order, a.Name) - slices.Index(order, b.Name)
	})
	return d.report, ctx.Err()
}

// order is the order checks are reported in: from the disk up to the
// cloud, whatever order they ran in (whether the node runs is known only
// after the files are checked, and the WAL's verdict depends on it).
var order = []string{
	"data-dir", "disk-space", "database", "wal", "node", "http", "mqtt", "mqtt-ws", "tablets", "outbox",
	"cloud", "cloud-url", "cloud-dns", "cloud-tcp", "cloud-tls", "cloud-credential", "clock", "dead-letters", "version",
}

// doctor is one run: its configuration and what it found so far.
type doctor struct {
	cfg    Config
	report Report
	dirOK  bool // the data directory holds a database doctor may open
}

func (d *doctor) add(name string, status Status, verdict, fix string) {
	if status == OK {
		fix = ""
	}
	d.report.Checks = append(d.report.Checks, Check{Name: name, Status: status, Verdict: verdict, Fix: fix})
}

func (d *doctor) ok(name, verdict string) { d.add(name, OK, verdict, "") }
