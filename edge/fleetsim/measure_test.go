package fleetsim

import (
	"strings"
	"testing"
	"time"
)

// TestOrgChanges: a node that pulls a price has seen every change up to
// it, once, at the first pull that carried it; a change the API refused
// is owed to nobody; latency runs from the API's answer.
func TestOrgChanges(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	o := &orgChanges{nodes: 2}
	a := o.add(101, t0.Add(-10*time.Millisecond))
	o.done(a, t0, nil)
	b := o.add(102, t0)
	o.done(b, t0.Add(time.Second), errFake)
	c := o.add(103, t0.Add(time.Second))
	o.done(c, t0.Add(2*time.Second), nil)

	if got, want := o.missing(), 4; got != want {
		t.Fatalf("missing before any pull = %d, want %d (2 changes × 2 nodes)", got, want)
	}
	seen := o.saw(0, 0, 100, t0) // the price from before any change
	if seen != 0 {
		t.Fatalf("a node at the old price has seen %d changes", seen)
	}
	seen = o.saw(0, seen, 103, t0.Add(2500*time.Millisecond))
	if seen != 3 {
		t.Fatalf("a node at the newest price has seen %d of 3 changes", seen)
	}
	if seen = o.saw(0, seen, 103, t0.Add(time.Hour)); seen != 3 { // a later pull of the same price
		t.Fatalf("after pulling the same price again, seen %d of 3", seen)
	}
	o.saw(1, 0, 101, t0.Add(-time.Millisecond)) // back before the API's answer
	if got, want := o.missing(), 1; got != want {
		t.Fatalf("missing = %d, want %d (node 1 has not seen 103)", got, want)
	}
	lat, answers := o.latencies()
	if len(answers) != 2 {
		t.Fatalf("changes answered = %d, want 2 (the refused one does not count)", len(answers))
	}
	if answers[0] != 10*time.Millisecond || answers[1] != time.Second {
		t.Fatalf("answers took %v, want [10ms 1s]", answers)
	}
	want := []time.Duration{2500 * time.Millisecond, 0, 500 * time.Millisecond}
	if len(lat) != len(want) {
		t.Fatalf("latencies = %v, want %v", lat, want)
	}
	for i := range want {
		if lat[i] != want[i] {
			t.Fatalf("latencies = %v, want %v", lat, want)
		}
	}
}

var errFake = &apiError{method: "PATCH", path: "/api/v1/items/x", status: 503, body: "busy"}

// TestProblems: dead letters, events never acknowledged, rows that differ
// from what was sent and changes that never arrived each fail a run; a
// clean run has no problem.
func TestProblems(t *testing.T) {
	sent := Counts{Orders: 10, OrderLines: 20, StatusHistory: 30, Payments: 10}
	tests := []struct {
		name string
		res  Result
		want string
	}{
		{"Clean", Result{Sent: sent, Cloud: &sent}, ""},
		{"NotCounted", Result{Sent: sent}, ""},
		{"DeadLetters", Result{Sent: sent, Cloud: &sent, DeadLettered: 2}, "dead-lettered 2"},
		{"Unacknowledged", Result{Sent: sent, Unacknowledged: 7}, "7 events were never acknowledged"},
		{"MissingRows", Result{Sent: sent, Cloud: &Counts{Orders: 9, OrderLines: 20, StatusHistory: 30, Payments: 10}}, "orders: the cloud gained 9, the nodes had 10"},
		{"DoubledRows", Result{Sent: sent, Cloud: &Counts{Orders: 10, OrderLines: 20, StatusHistory: 30, Payments: 11}}, "payments: the cloud gained 11"},
		{"ChangeLost", Result{Sent: sent, WakeExpected: 100, WakeMissing: 3}, "3 of 100 deliveries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(problems(tt.res), "; ")
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Fatalf("problems = %q, want one saying %q", got, tt.want)
			}
		})
	}
}

// TestParseMetrics reads the unlabelled samples of a cloud's /metrics.
func TestParseMetrics(t *testing.T) {
	text := `# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 5.24288e+07
process_open_fds 1012
go_goroutines 2031
pantry_cloud_http_requests_total{route="/sync/v1/pull",status="200"} 77
pantry_cloud_sync_events_received_total 12345
`
	v, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"process_resident_memory_bytes": 52428800, "process_open_fds": 1012,
		"go_goroutines": 2031, "pantry_cloud_sync_events_received_total": 12345} {
		if got := v[name]; got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if _, ok := v["pantry_cloud_http_requests_total"]; ok {
		t.Error("a labelled sample was read as unlabelled")
	}
}
