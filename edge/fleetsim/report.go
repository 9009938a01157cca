package fleetsim

import (
	"fmt"
	"slices"
	"strings"
)

// String formats r as a table for people: one line per subject.
func (r Result) String() string {
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-13s "+format+"\n", append([]any{label + ":"}, args...)...)
	}
	line("fleet", "%d nodes in %d organizations on %d cloud instance(s); %.0f s at a target of %.0f pushes/s (nodes ready in %.1f s)",
		r.Nodes, r.Orgs, r.Instances, r.Seconds, r.TargetPushRate, r.NodesReadySec)
	line("pushes", "%d (%.1f/s), %d events (%.0f/s); latency p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		r.Pushes, r.PushesPerSec, r.Events, r.EventsPerSec, r.PushP50ms, r.PushP99ms, r.PushMaxms)
	if r.CatchUps > 0 {
		line("catch-ups", "%d backlog pushes; latency p50 %.1f ms, p99 %.1f ms, max %.1f ms", r.CatchUps, r.CatchUpP50ms, r.CatchUpP99ms, r.CatchUpMaxms)
	}
	line("long polls", "%d of %d held at the start; through the phase min %d, mean %.1f, max %d; %d answered",
		r.PullsHeldStart, r.Nodes, r.PullsHeldMin, r.PullsHeldMean, r.PullsHeldMax, r.PullsAnswered)
	line("changes", "%d price changes (API answered in p50 %.1f ms, max %.1f ms); %d of %d node deliveries; wake-up p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		r.Changes, r.ChangeP50ms, r.ChangeMaxms, r.WakeDelivered, r.WakeExpected, r.WakeP50ms, r.WakeP99ms, r.WakeMaxms)
	line("exactly once", "%s", r.exactlyOnce())
	line("errors", "%s", r.errors())
	for i, c := range r.Clouds {
		line(fmt.Sprintf("cloud %d", i+1), "%s: %d nodes; RSS %.0f MiB (peak %.0f MiB); open files %d (peak %d of %d); goroutines peak %d; CPU %.0f%%; %.0f events received",
			c.URL, c.Nodes, c.RSSMiB, c.PeakRSSMiB, c.OpenFiles, c.PeakOpenFiles, c.MaxFiles, c.PeakGoroutines, c.CPUPercent, c.EventsReceived)
	}
	if r.DB.MaxConnections > 0 {
		line("postgres", "connections peak %d of max %d (active peak %d, idle in transaction peak %d, waiting for a lock peak %d, listeners %d); CPU %.0f%%",
			r.DB.Connections, r.DB.MaxConnections, r.DB.Active, r.DB.IdleInTx, r.DB.LockWaits, r.DB.Listeners, r.DB.CPUPercent)
	}
	line("load gen", "peak RSS %.0f MiB, peak open files %d, CPU %.0f%%", r.SelfPeakRSSMiB, r.SelfOpenFiles, r.SelfCPUPercent)
	line("machine", "load average %.2f %.2f %.2f before, %.2f %.2f %.2f after", r.LoadBefore[0], r.LoadBefore[1], r.LoadBefore[2],
		r.LoadAfter[0], r.LoadAfter[1], r.LoadAfter[2])
	if len(r.Problems) == 0 {
		line("result", "ok")
	} else {
		line("result", "FAILED: %s", strings.Join(r.Problems, "; "))
	}
	return b.String()
}

// exactlyOnce says how the cloud's rows compare with what the nodes sent.
func (r Result) exactlyOnce() string {
	sent := r.Sent.fields()
	if r.Cloud == nil {
		parts := make([]string, 0, len(sent))
		for _, f := range sent {
			parts = append(parts, fmt.Sprintf("%s %d", f.name, f.n))
		}
		return "not checked (no database); sent " + strings.Join(parts, ", ")
	}
	got := r.Cloud.fields()
	parts := make([]string, 0, len(sent))
	same := true
	for i, f := range sent {
		if f.n == got[i].n {
			parts = append(parts, fmt.Sprintf("%s %d", f.name, f.n))
			continue
		}
		same = false
		parts = append(parts, fmt.Sprintf("%s %d sent, %d in the cloud", f.name, f.n, got[i].n))
	}
	verdict := "every acknowledged event is in the cloud once: "
	if !same {
		verdict = "MISMATCH: "
	}
	return verdict + strings.Join(parts, ", ")
}

// errors lists the errors by kind, most frequent first.
func (r Result) errors() string {
	if len(r.Errors) == 0 {
		return "none"
	}
	kinds := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b string) int { return r.Errors[b] - r.Errors[a] })
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s ×%d (first: %s)", k, r.Errors[k], r.ErrorSamples[k])
	}
	return strings.Join(parts, "; ")
}
