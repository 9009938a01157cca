package web_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The load BenchmarkDashboardPages puts on the dashboard: closed loop (as
// fast as a number of clients go) and open loop (requests sent on a fixed
// schedule whatever the answers' speed, each timed from when it was due,
// so that a server falling behind cannot hide its queue), and what it
// reports.

// sample is one request's outcome.
type sample struct {
	kind   int
	took   time.Duration
	status int
	path   string
	body   string // of an error
}

// samples collects outcomes from many goroutines.
type samples struct {
	mu   sync.Mutex
	list []sample
}

func (s *samples) add(x sample) {
	s.mu.Lock()
	s.list = append(s.list, x)
	s.mu.Unlock()
}

func (s *samples) merge(o *samples) {
	s.mu.Lock()
	s.list = append(s.list, o.list...)
	s.mu.Unlock()
}

// closedLoop runs clients goroutines, each asking for page after page,
// for dur.
func (e *pageBench) closedLoop(clients int, dur time.Duration) *samples {
	var out samples
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			for time.Now().Before(deadline) {
				kind, session, path := e.pick(rng)
				start := time.Now()
				status, body := e.get(e.cloudA.URL, session, path)
				out.add(sample{kind: kind, took: time.Since(start), status: status, path: path, body: body})
			}
		})
	}
	wg.Wait()
	return &out
}

// openLoop sends rate requests a second for dur, each on its own
// goroutine at the moment it is due, and times each from that moment.
func (e *pageBench) openLoop(rate int, dur time.Duration) *samples {
	var out samples
	rng := rand.New(rand.NewPCG(1, 7))
	interval := time.Second / time.Duration(rate)
	n := int(dur / interval)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		kind, session, path := e.pick(rng)
		wg.Go(func() {
			status, body := e.get(e.cloudA.URL, session, path)
			out.add(sample{kind: kind, took: time.Since(due), status: status, path: path, body: body})
		})
	}
	wg.Wait()
	return &out
}

// stats are the percentiles of a set of latencies.
type stats struct {
	n, errors     int
	p50, p99, max time.Duration
	firstError    string
}

func statsOf(list []sample) stats {
	var st stats
	var took []time.Duration
	for _, s := range list {
		took = append(took, s.took)
		if s.status != 200 {
			st.errors++
			if st.firstError == "" {
				st.firstError = fmt.Sprintf("GET %s: %d %s", s.path, s.status, firstLine(s.body))
			}
		}
	}
	st.n = len(took)
	st.p50, st.p99, st.max = percentiles(took)
	return st
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// report logs a table of the percentiles of each kind of page and of all,
// reports all's as metrics, and fails the benchmark on any error.
func (e *pageBench) report(b *testing.B, what string, all *samples) {
	b.Helper()
	byKind := make([][]sample, len(e.kinds))
	for _, s := range all.list {
		byKind[s.kind] = append(byKind[s.kind], s)
	}
	var t strings.Builder
	fmt.Fprintf(&t, "%s: %d pages\n%-40s %7s %7s %9s %9s %9s\n", what, len(all.list), "page", "n", "errors", "p50 ms", "p99 ms", "max ms")
	var errs []string
	row := func(name string, st stats) {
		fmt.Fprintf(&t, "%-40s %7d %7d %9.1f %9.1f %9.1f\n", name, st.n, st.errors, ms(st.p50), ms(st.p99), ms(st.max))
	}
	for i, k := range e.kinds {
		st := statsOf(byKind[i])
		row(k.name, st)
		if st.errors > 0 {
			errs = append(errs, fmt.Sprintf("%s: %d of %d failed, first: %s", k.name, st.errors, st.n, st.firstError))
		}
	}
	st := statsOf(all.list)
	row("all", st)
	b.Log(t.String())
	b.ReportMetric(ms(st.p50), "p50-ms")
	b.ReportMetric(ms(st.p99), "p99-ms")
	b.ReportMetric(ms(st.max), "max-ms")
	b.ReportMetric(float64(st.errors), "errors")
	if len(errs) > 0 {
		b.Errorf("pages that did not answer 200:\n  %s", strings.Join(errs, "\n  "))
	}
}

// lockedLog keeps what the servers log at warning and above, for the
// benchmark to show: a 500's cause is there, not in its page.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() < 1<<20 {
		l.buf.Write(p)
	}
	return len(p), nil
}

// logServerErrors shows what the servers logged at warning and above,
// each distinct message once with how often it came (its time and path
// left out).
func (e *pageBench) logServerErrors(b *testing.B) {
	e.serverLog.mu.Lock()
	text := e.serverLog.buf.String()
	e.serverLog.mu.Unlock()
	counts := map[string]int{}
	var order []string
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line == "" {
			continue
		}
		key := strings.Join(slices.DeleteFunc(strings.Fields(line), func(f string) bool {
			return strings.HasPrefix(f, "time=") || strings.HasPrefix(f, "path=")
		}), " ")
		if counts[key]++; counts[key] == 1 {
			order = append(order, key)
		}
	}
	if len(order) == 0 {
		return
	}
	var t strings.Builder
	for _, key := range order[:min(len(order), 10)] {
		fmt.Fprintf(&t, "  %d× %s\n", counts[key], key)
	}
	b.Logf("the servers logged %d distinct warnings or errors; the first ones:\n%s", len(order), t.String())
}
