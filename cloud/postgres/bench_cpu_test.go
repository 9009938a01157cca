package postgres

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Where a benchmark's CPU goes, by server: on two shared cores the Citus
// cluster's three servers and the benchmark compete, and the time each
// uses per operation is what says what one machine per node would do.
// A server's CPU is its postmaster's, its exited children's (cutime and
// cstime: the postmaster reaps every backend) and its live children's,
// read from /proc; the benchmark's own process (the cloud's code and the
// load generator) is "go". Only for servers on this machine: for an
// external one the meter measures the benchmark alone.

// userHZ is the unit of /proc/*/stat's times (USER_HZ, 100 on Linux).
const userHZ = 100

// pgNode is one PostgreSQL server's postmaster on this machine.
type pgNode struct {
	name string
	pid  int
}

// findPgNodes finds the servers of the database at url (a superuser
// URL): the one server, or the coordinator and the workers, through
// their data directories' postmaster.pid.
func findPgNodes(b *testing.B, url string, citus bool) []pgNode {
	b.Helper()
	conn := mustConnect(b, url)
	var dirs []string
	var dir string
	if err := conn.QueryRow(b.Context(), `SHOW data_directory`).Scan(&dir); err != nil {
		b.Fatal(err)
	}
	dirs = append(dirs, dir)
	names := []string{"postgres"}
	if citus {
		rows, _ := conn.Query(b.Context(), `SELECT result FROM run_command_on_workers('SHOW data_directory') ORDER BY nodeport`)
		workers, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			b.Fatal(err)
		}
		dirs = append(dirs, workers...)
		names = []string{"coordinator"}
		for i := range workers {
			names = append(names, "worker"+strconv.Itoa(i+1))
		}
	}
	var nodes []pgNode
	for i, d := range dirs {
		raw, err := os.ReadFile(filepath.Join(d, "postmaster.pid"))
		if err != nil {
			b.Logf("no CPU time by server: %v", err)
			return nil
		}
		pid, err := strconv.Atoi(strings.SplitN(string(raw), "\n", 2)[0])
		if err != nil {
			b.Logf("no CPU time by server: %s/postmaster.pid: %v", d, err)
			return nil
		}
		nodes = append(nodes, pgNode{name: names[i], pid: pid})
	}
	return nodes
}

// procStat is what a /proc/<pid>/stat says that the meter needs.
type procStat struct {
	ppid  int
	own   time.Duration // utime + stime
	child time.Duration // cutime + cstime: reaped children's
}

func readProcStat(path string) (procStat, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, err
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after its closing parenthesis (field 3, the state, first).
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("%s: %d fields", path, len(f))
	}
	num := func(i int) int64 { n, _ := strconv.ParseInt(f[i], 10, 64); return n }
	tick := time.Second / userHZ
	return procStat{ppid: int(num(1)),
		own:   time.Duration(num(11)+num(12)) * tick,
		child: time.Duration(num(13)+num(14)) * tick}, nil
}

// cpuTimes reads the CPU time so far of each node, by name, and of this
// process ("go").
func cpuTimes(nodes []pgNode) map[string]time.Duration {
	out := map[string]time.Duration{}
	if self, err := readProcStat("/proc/self/stat"); err == nil {
		out["go"] = self.own
	}
	byPid := map[int]string{}
	for _, n := range nodes {
		if st, err := readProcStat(fmt.Sprintf("/proc/%d/stat", n.pid)); err == nil {
			out[n.name] = st.own + st.child
			byPid[n.pid] = n.name
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		st, err := readProcStat(p) // a process may be gone already
		if name, ok := byPid[st.ppid]; err == nil && ok {
			out[name] += st.own
		}
	}
	return out
}

// cpuMeter adds up the CPU time each process uses between start and stop.
type cpuMeter struct {
	nodes []pgNode
	from  map[string]time.Duration
	used  map[string]time.Duration
}

func newCPUMeter(nodes []pgNode) *cpuMeter {
	return &cpuMeter{nodes: nodes, used: map[string]time.Duration{}}
}

func (m *cpuMeter) start() { m.from = cpuTimes(m.nodes) }

func (m *cpuMeter) stop() {
	for name, t := range cpuTimes(m.nodes) {
		m.used[name] += t - m.from[name]
	}
}

// perOp is the CPU time used per operation, in µs, by process.
func (m *cpuMeter) perOp(ops int) map[string]float64 {
	out := map[string]float64{}
	for name, t := range m.used {
		out[name] = float64(t.Microseconds()) / float64(max(ops, 1))
	}
	return out
}

// reportCPU adds perOp's figures as metrics named after their process.
func reportCPU(b *testing.B, unit string, perOp map[string]float64) {
	for name, v := range perOp {
		b.ReportMetric(v, name+"-cpu-"+unit)
	}
}
