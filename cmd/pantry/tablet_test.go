package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/edge/sqlite"
)

// pantryCLI runs the pantry command in-process and returns its output.
func pantryCLI(tb testing.TB, args ...string) (string, error) {
	tb.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"pantry"}, args...), func(string) string { return "" }, &out, &out)
	return out.String(), err
}

// TestTabletCLIAgainstRunningNode: a tablet added with the CLI logs in to
// a running node, `pantry edge status` lists it as connected, and once the
// CLI removes it the node disconnects it within seconds and refuses it.
func TestTabletCLIAgainstRunningNode(t *testing.T) {
	n := edgetest.Start(t)
	out, err := pantryCLI(t, "edge", "tablet", "add", "--data", n.Dir, "--username", "bar-1", "--name", "Bar")
	if err != nil {
		t.Fatalf("tablet add: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Password \(shown once\): (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no password in %q", out)
	}
	password := m[1]
	tab, err := edgetest.ConnectAs(t, n.MQTTAddr().String(), "tablet-bar-1-drinks-c1", "bar-1", password)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("StatusListsTablet", func(t *testing.T) {
		var st struct {
			Staff *sqlite.StaffPresence `json:"staff"`
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			out, err := pantryCLI(t, "edge", "status", "--data", n.Dir, "--json")
			if err != nil {
				t.Fatalf("status: %v\n%s", err, out)
			}
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				t.Fatalf("status --json: %v\n%s", err, out)
			}
			if st.Staff != nil && len(st.Staff.Tablets) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("status never listed the tablet: %s", out)
			}
		}
		if got := st.Staff.Tablets[0]; got.Username != "bar-1" || got.Station != "drinks" || !st.Staff.Running {
			t.Fatalf("status tablet=%+v running=%v", got, st.Staff.Running)
		}
		out, err := pantryCLI(t, "edge", "status", "--data", n.Dir)
		if err != nil || !strings.Contains(out, "1 connected") || !strings.Contains(out, "bar-1, station drinks") {
			t.Fatalf("status: %v\n%s", err, out)
		}
	})

	if out, err := pantryCLI(t, "edge", "tablet", "remove", "--data", n.Dir, "--username", "bar-1"); err != nil {
		t.Fatalf("tablet remove: %v\n%s", err, out)
	}
	select {
	case <-tab.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("removed tablet still connected after 10 s")
	}
	if _, err := edgetest.Connect(t, n.MQTTAddr().String(), "bar-1", password); err == nil {
		t.Fatal("removed tablet logged in again")
	}
	if _, err := pantryCLI(t, "edge", "tablet", "remove", "--data", n.Dir, "--username", "bar-1"); err == nil {
		t.Fatal("removing an unknown tablet succeeded")
	}
}
