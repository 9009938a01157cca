package fleetsim

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pantry/pantry/edge/loadgen"
)

// What the run samples while the fleet is on line: the clouds' processes
// (their /metrics, which every instance serves, and /proc when they run
// here), PostgreSQL's connections, the long polls held, and the load
// generator itself.

// DBStats is PostgreSQL's side of the run, from pg_stat_activity.
type DBStats struct {
	// Connections are every backend of the database the clouds use;
	// Active those running a statement now, IdleInTx those inside a
	// transaction between statements, Listeners the clouds' LISTEN
	// connections.
	Connections int `json:"connections"`
	Active      int `json:"active"`
	IdleInTx    int `json:"idle_in_transaction"`
	Listeners   int `json:"listeners"`
	// LockWaits are backends waiting for a heavyweight lock (a row, or
	// the database-wide lock every committing NOTIFY takes).
	LockWaits int `json:"lock_waits"`
	// MaxConnections is the server's max_connections.
	MaxConnections int `json:"max_connections"`
	// PIDs are the server's processes (the database's backends and the
	// server's own workers): when it runs on this machine, the run reads
	// their CPU time from /proc.
	PIDs []int `json:"-"`
	// CPUPercent is what those processes used over the phase, of one
	// core; 0 when PostgreSQL runs elsewhere.
	CPUPercent float64 `json:"cpu_percent"`
}

// CloudStats is one cloud instance over the phase.
type CloudStats struct {
	URL            string  `json:"url"`
	Nodes          int     `json:"nodes"` // the fleet's nodes that talk to it
	RSSMiB         float64 `json:"rss_mib"`
	PeakRSSMiB     float64 `json:"peak_rss_mib"` // the most sampled, or VmHWM when it runs here
	OpenFiles      int     `json:"open_files"`
	PeakOpenFiles  int     `json:"peak_open_files"`
	MaxFiles       int     `json:"max_files,omitempty"` // its RLIMIT_NOFILE, from /metrics
	PeakGoroutines int     `json:"peak_goroutines"`
	CPUPercent     float64 `json:"cpu_percent"`             // of one core, over the phase
	EventsReceived float64 `json:"events_received"`         // its pantry_cloud_sync_events_received_total over the phase
	Pid            int     `json:"pid,omitempty"`           // when it runs here
	SampleErrors   int     `json:"sample_errors,omitempty"` // /metrics that did not answer
}

// cloudSample is what one read of a cloud's /metrics says.
type cloudSample struct {
	rss, cpu, events float64
	files, maxFiles  int
	goroutines       int
}

// readCloudMetrics reads the figures the report needs from a cloud's
// Prometheus text /metrics: the process collector's and the sync counter.
func readCloudMetrics(ctx context.Context, client *http.Client, base string) (cloudSample, error) {
	var s cloudSample
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/metrics", nil)
	if err != nil {
		return s, fmt.Errorf("metrics of %s: %w", base, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return s, fmt.Errorf("metrics of %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("metrics of %s: status %d", base, resp.StatusCode)
	}
	v, err := parseMetrics(resp.Body)
	if err != nil {
		return s, fmt.Errorf("metrics of %s: %w", base, err)
	}
	s.rss, s.cpu, s.events = v["process_resident_memory_bytes"], v["process_cpu_seconds_total"], v["pantry_cloud_sync_events_received_total"]
	s.files, s.maxFiles, s.goroutines = int(v["process_open_fds"]), int(v["process_max_fds"]), int(v["go_goroutines"])
	return s, nil
}

// parseMetrics reads the unlabelled samples of a Prometheus text
// exposition: name value.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		out[f[0]] = v
	}
	return out, sc.Err()
}

// sampler keeps the peaks of what it samples while the phase runs.
type sampler struct {
	r      *run
	client *http.Client

	mu         sync.Mutex
	first      []*cloudSample // per cloud, the sample at the start of the phase
	last       []*cloudSample
	clouds     []CloudStats
	db         DBStats
	dbCPU      map[int][2]time.Duration // per PostgreSQL process: CPU time when first and last sampled
	dbErrors   int
	heldMin    int
	heldMax    int
	heldSum    int64
	heldCount  int
	selfPeak   int64
	selfFiles  int
	selfBefore *loadgen.ProcessStats
}

func newSampler(r *run) *sampler {
	s := &sampler{r: r, client: &http.Client{Timeout: 10 * time.Second}, heldMin: -1,
		first: make([]*cloudSample, len(r.cfg.Clouds)), last: make([]*cloudSample, len(r.cfg.Clouds)),
		clouds: make([]CloudStats, len(r.cfg.Clouds))}
	for i, u := range r.cfg.Clouds {
		s.clouds[i].URL = u
		if i < len(r.cfg.CloudPIDs) {
			s.clouds[i].Pid = r.cfg.CloudPIDs[i]
		}
	}
	for i := range r.nodes {
		s.clouds[i%len(r.cfg.Clouds)].Nodes++
	}
	if st, err := loadgen.ReadProcessStats(os.Getpid()); err == nil {
		s.selfBefore = &st
	}
	return s
}

// run samples every interval until ctx ends, and once more at the end.
func (s *sampler) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	s.sample(ctx)
	for {
		select {
		case <-ctx.Done():
			s.sample(ctx)
			return
		case <-t.C:
			s.sample(ctx)
		}
	}
}

// sample reads everything once, each read bounded on its own: the last
// sample is taken as the phase ends.
func (s *sampler) sample(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	held := int(s.r.held.Load())
	s.mu.Lock()
	if s.heldMin < 0 || held < s.heldMin {
		s.heldMin = held
	}
	s.heldMax, s.heldSum, s.heldCount = max(s.heldMax, held), s.heldSum+int64(held), s.heldCount+1
	s.mu.Unlock()
	for i, u := range s.r.cfg.Clouds {
		c, err := readCloudMetrics(ctx, s.client, u)
		s.mu.Lock()
		if err != nil {
			s.clouds[i].SampleErrors++
			s.r.m.fail("metrics", err)
		} else {
			s.cloud(i, c)
		}
		s.mu.Unlock()
	}
	if s.r.cfg.Database != nil {
		db, err := s.r.cfg.Database(ctx)
		s.mu.Lock()
		if err != nil {
			s.dbErrors++
		} else {
			s.db = DBStats{Connections: max(s.db.Connections, db.Connections), Active: max(s.db.Active, db.Active),
				IdleInTx: max(s.db.IdleInTx, db.IdleInTx), Listeners: max(s.db.Listeners, db.Listeners),
				LockWaits: max(s.db.LockWaits, db.LockWaits), MaxConnections: db.MaxConnections}
			s.dbProcesses(db.PIDs)
		}
		s.mu.Unlock()
	}
	if st, err := loadgen.ReadProcessStats(os.Getpid()); err == nil {
		s.mu.Lock()
		s.selfPeak, s.selfFiles = max(s.selfPeak, st.RSSBytes), max(s.selfFiles, st.OpenFiles)
		s.mu.Unlock()
	}
}

// dbProcesses samples the CPU time of PostgreSQL's processes, when they
// run here. A process first seen after the start counts from then on:
// the pool's connections live through the phase, so little is missed.
func (s *sampler) dbProcesses(pids []int) {
	if s.dbCPU == nil {
		s.dbCPU = map[int][2]time.Duration{}
	}
	for _, pid := range pids {
		st, err := loadgen.ReadProcessStats(pid)
		if err != nil {
			continue // elsewhere, or gone
		}
		c, ok := s.dbCPU[pid]
		if !ok {
			c[0] = st.CPU
		}
		c[1] = st.CPU
		s.dbCPU[pid] = c
	}
}

// cloud folds a sample of cloud i into its figures.
func (s *sampler) cloud(i int, c cloudSample) {
	if s.first[i] == nil {
		s.first[i] = &c
	}
	s.last[i] = &c
	cs := &s.clouds[i]
	cs.RSSMiB, cs.PeakRSSMiB = mib(int64(c.rss)), max(cs.PeakRSSMiB, mib(int64(c.rss)))
	cs.OpenFiles, cs.PeakOpenFiles, cs.MaxFiles = c.files, max(cs.PeakOpenFiles, c.files), c.maxFiles
	cs.PeakGoroutines = max(cs.PeakGoroutines, c.goroutines)
}

// report fills res with what was sampled over a phase of elapsed.
func (s *sampler) report(res *Result, elapsed time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.clouds {
		cs := &s.clouds[i]
		if f, l := s.first[i], s.last[i]; f != nil && l != nil {
			cs.CPUPercent = 100 * (l.cpu - f.cpu) / elapsed.Seconds()
			cs.EventsReceived = l.events - f.events
		}
		if cs.Pid > 0 {
			if st, err := loadgen.ReadProcessStats(cs.Pid); err == nil {
				cs.PeakRSSMiB = max(cs.PeakRSSMiB, mib(st.PeakRSSBytes))
			}
		}
	}
	res.Clouds = s.clouds
	var dbCPU time.Duration
	for _, c := range s.dbCPU {
		dbCPU += c[1] - c[0]
	}
	s.db.CPUPercent = 100 * dbCPU.Seconds() / elapsed.Seconds()
	res.DB, res.DBSampleErrors = s.db, s.dbErrors
	res.PullsHeldMin, res.PullsHeldMax = max(s.heldMin, 0), s.heldMax
	if s.heldCount > 0 {
		res.PullsHeldMean = float64(s.heldSum) / float64(s.heldCount)
	}
	res.SelfPeakRSSMiB, res.SelfOpenFiles = mib(s.selfPeak), s.selfFiles
	if st, err := loadgen.ReadProcessStats(os.Getpid()); err == nil && s.selfBefore != nil {
		res.SelfCPUPercent = 100 * (st.CPU - s.selfBefore.CPU).Seconds() / elapsed.Seconds()
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// LoadAverage is /proc/loadavg's 1, 5 and 15 minute figures: how busy the
// machine was, whoever kept it busy.
func LoadAverage() ([3]float64, error) {
	var l [3]float64
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l, fmt.Errorf("read load average: %w", err)
	}
	f := strings.Fields(string(raw))
	for i := range l {
		if i >= len(f) {
			return l, fmt.Errorf("parse /proc/loadavg %q", raw)
		}
		if l[i], err = strconv.ParseFloat(f[i], 64); err != nil {
			return l, fmt.Errorf("parse /proc/loadavg: %w", err)
		}
	}
	return l, nil
}
