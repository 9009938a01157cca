package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/edge/fleetsim"
	"github.com/pantry/pantry/internal/pgtest"
)

// TestCloudLoadtestSmallFleet runs `pantry cloud loadtest` as a user
// would, small: it sets up 20 nodes in two organizations against a real
// cloud process it starts on a throwaway database and saves the fleet,
// then runs twice on the saved fleet (the second run carries on from the
// watermarks the first left). After each run the test reads the database
// itself: every node held a long poll, every event the nodes had
// acknowledged is in the cloud exactly once (rows by kind, and the
// watermarks add up to the events sent, so none is missing or doubled),
// nothing was dead-lettered, and every node pulled every price change.
// It asserts no duration.
func TestCloudLoadtestSmallFleet(t *testing.T) {
	bin := buildPantry(t)
	dbURL := pgtest.NewDatabase(t)
	state := filepath.Join(t.TempDir(), "fleet.json")
	common := []string{"cloud", "loadtest", "--database-url", dbURL, "--state", state}
	if pgtest.Citus() { // its migrate distributes the tables
		common = append(common, "--citus")
	}

	out := runLoadtest(t, bin, append(common, "--setup-only", "--orgs", "2", "--sites-per-org", "10", "--rooms", "2", "--items", "4")...)
	if !strings.Contains(string(out), "fleet of 20 nodes in 2 organizations saved") {
		t.Fatalf("setup said %q", out)
	}
	fleet, err := fleetsim.LoadFleet(state)
	if err != nil {
		t.Fatal(err)
	}
	db, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	var enrolled int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM edge_nodes WHERE revoked_at IS NULL AND organization_id = ANY($1::uuid[])`,
		fleet.OrgIDs()).Scan(&enrolled); err != nil || enrolled != 20 {
		t.Fatalf("enrolled nodes = %d (%v), want 20", enrolled, err)
	}

	var sent fleetsim.Counts
	acked := 0
	for run := 1; run <= 2; run++ {
		var res fleetsim.Result
		out := runLoadtest(t, bin, append(common, "--reuse", "--push-rate", "40", "--duration", "4s", "--pull-wait", "5s",
			"--change-every", "1s", "--catch-up", "0.02", "--catch-up-events", "200", "--json")...)
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out)
		}
		if res.Nodes != 20 || res.PullsHeldStart != 20 {
			t.Fatalf("run %d: %d nodes, %d held a long poll; want 20 and 20", run, res.Nodes, res.PullsHeldStart)
		}
		if res.Pushes == 0 || res.Events == 0 || res.Sent.Orders == 0 || res.Sent.StatusHistory <= res.Sent.Orders {
			t.Fatalf("run %d pushed little: %d pushes, %d events, sent %+v", run, res.Pushes, res.Events, res.Sent)
		}
		if res.Changes == 0 || res.WakeDelivered != res.WakeExpected || res.WakeExpected != res.Changes*10 {
			t.Fatalf("run %d: %d changes, %d of %d deliveries, want every change to reach the 10 nodes of its organization",
				run, res.Changes, res.WakeDelivered, res.WakeExpected)
		}
		if len(res.Problems) != 0 || res.DeadLettered != 0 || res.Unacknowledged != 0 {
			t.Fatalf("run %d: problems %v (dead-lettered %d, unacknowledged %d)", run, res.Problems, res.DeadLettered, res.Unacknowledged)
		}
		if len(res.Clouds) != 1 || res.Clouds[0].PeakOpenFiles == 0 || res.DB.Connections == 0 {
			t.Fatalf("run %d: process figures missing: clouds %+v, postgres %+v", run, res.Clouds, res.DB)
		}
		sent, acked = add(sent, res.Sent), acked+res.Acknowledged
		if got := countFleetRows(t, db, fleet.OrgIDs()); got != sent {
			t.Fatalf("after run %d the cloud holds\n%+v\nthe nodes had acknowledged\n%+v", run, got, sent)
		}
		var watermarks int
		if err := db.QueryRow(context.Background(), `SELECT coalesce(sum(applied_seq), 0) FROM edge_nodes WHERE organization_id = ANY($1::uuid[])`,
			fleet.OrgIDs()).Scan(&watermarks); err != nil {
			t.Fatal(err)
		}
		if watermarks != acked {
			t.Fatalf("after run %d the watermarks add up to %d, the nodes had %d events acknowledged", run, watermarks, acked)
		}
	}
}

// runLoadtest runs the binary and returns its stdout; a failure shows its
// stderr.
func runLoadtest(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pantry %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args[:2], " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

// countFleetRows counts, as the database's superuser, the rows the
// fleet's events write.
func countFleetRows(t *testing.T, db *pgx.Conn, orgs []string) fleetsim.Counts {
	t.Helper()
	var c fleetsim.Counts
	count := func(table, where string) int64 {
		var n int64
		if err := db.QueryRow(context.Background(), `SELECT count(*) FROM `+table+` WHERE organization_id = ANY($1::uuid[]) `+where, orgs).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		return n
	}
	c.Sessions, c.SessionsExpired = count("attendee_sessions", ""), count("attendee_sessions", "AND expired_at IS NOT NULL")
	c.Orders, c.OrderLines, c.StatusHistory = count("orders", ""), count("order_lines", ""), count("order_status_history", "")
	c.Payments, c.CouponRedemptions = count("payments", ""), count("coupon_redemptions", "")
	c.StockMovements, c.DeadLetters = count("stock_movements", "AND origin = 'edge'"), count("dead_letters", "")
	return c
}

// add sums two counts, field by field.
func add(a, b fleetsim.Counts) fleetsim.Counts {
	return fleetsim.Counts{Sessions: a.Sessions + b.Sessions, SessionsExpired: a.SessionsExpired + b.SessionsExpired,
		Orders: a.Orders + b.Orders, OrderLines: a.OrderLines + b.OrderLines, StatusHistory: a.StatusHistory + b.StatusHistory,
		Payments: a.Payments + b.Payments, CouponRedemptions: a.CouponRedemptions + b.CouponRedemptions,
		StockMovements: a.StockMovements + b.StockMovements, DeadLetters: a.DeadLetters + b.DeadLetters}
}
