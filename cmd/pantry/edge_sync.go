package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/edge/tlsca"
)

// newEdgeInitCmd enrolls a building's edge node with the cloud: it
// exchanges a one-time token for the node's credential and pulls the
// site's whole configuration, so that `pantry edge serve --data DIR` runs
// the site without --demo.
func newEdgeInitCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	var dir, cloudURL, token, name string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Enroll this edge node with the cloud using a one-time token",
		Long: "Enroll this edge node with the cloud. An admin creates the token with\n" +
			"`pantry cloud site enroll-token --site ID` or POST /api/v1/sites/{id}/enrollment-tokens.\n" +
			"It also makes the node's site CA (DIR/tls), if it has none, for HTTPS on the LAN:\n" +
			"see `pantry edge tls`.",
	}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	dataDir(e, &dir, "data directory (created if missing)")
	e.String(&cloudURL, "cloud", "PANTRY_CLOUD_URL", "", "the cloud's base URL, e.g. https://pantry.example.com")
	e.String(&token, "token", "PANTRY_ENROLL_TOKEN", "", "the one-time enrollment token")
	host, _ := os.Hostname()
	e.String(&name, "name", "PANTRY_NODE_NAME", host, "a name for this box, shown to admins")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		if cloudURL == "" || token == "" {
			return errors.New("pass --cloud with the cloud's URL and --token with an enrollment token")
		}
		res, err := edge.Enroll(cmd.Context(), edge.EnrollConfig{
			DataDir: dir, CloudURL: cloudURL, Token: token, Name: name, Notices: cmd.ErrOrStderr(),
		})
		if err != nil {
			return err
		}
		// After the enrollment, which made DIR private: the CA's key is kept there.
		ca, _, err := tlsca.EnsureCA(dir, tlsca.CAOptions{Name: res.SiteName})
		if err != nil {
			return fmt.Errorf("enrolled, but the site CA could not be made (%w): run `pantry edge tls init --data %s` once that is fixed", err, dir)
		}
		return printEnrollment(stdout, dir, res, ca, asJSON)
	}
	return cmd
}

// printEnrollment tells the technician what init made and how to start
// the node.
func printEnrollment(w io.Writer, dir string, res edge.Enrollment, ca *tlsca.CA, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(map[string]any{
			"node_id": res.NodeID, "org_id": res.OrgID, "site_id": res.SiteID, "site_name": res.SiteName,
			"config_revision": res.ConfigRevision, "rooms": res.Rooms, "items": res.Items,
			"site_ca_sha256": ca.Fingerprint(),
		})
	}
	fmt.Fprintf(w, "Enrolled node %s for site %q (%d rooms, %d items, configuration revision %d).\n",
		res.NodeID, res.SiteName, res.Rooms, res.Items, res.ConfigRevision)
	fmt.Fprintf(w, "Site CA for HTTPS on the LAN: SHA-256 %s\n  give it to the tablets: pantry edge tls ca --data %s --out pantry-site-ca.crt\n", ca.Fingerprint(), dir)
	fmt.Fprintf(w, "Start it with: pantry edge serve --data %s (add --tls on once the tablets trust the CA)\n", dir)
	return nil
}

func newEdgeStatusCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show this node's sync health (outbox depth and age, last push and pull, failures, clock skew) and its tablets",
	}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	dataDir(e, &dir, "the node's data directory")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		s, err := openExisting(cmd, dir)
		if err != nil {
			return err
		}
		defer s.Close()
		ctx := cmd.Context()
		st, err := s.SyncReport(ctx)
		if err != nil {
			return err
		}
		staff, recorded, err := s.LastStaffPresence(ctx)
		if err != nil {
			return err
		}
		if asJSON {
			out := struct {
				sqlite.SyncReport
				Staff *sqlite.StaffPresence `json:"staff,omitempty"`
			}{SyncReport: st}
			if recorded {
				out.Staff = &staff
			}
			return json.NewEncoder(stdout).Encode(out)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		defer tw.Flush()
		if !st.Enrolled {
			fmt.Fprintf(tw, "enrolled\tno (a demo or unconfigured node: nothing is replicated)\n")
		} else {
			fmt.Fprintf(tw, "node\t%s (site %s)\ncloud\t%s\n", st.NodeID, st.SiteID, st.CloudURL)
		}
		fmt.Fprintf(tw, "outbox\t%d events, %d acknowledged by the cloud, %d not yet pushed", st.Outbox.LastSeq, st.Outbox.AckedSeq, st.Outbox.Unpushed)
		if st.Outbox.Unpushed > 0 {
			fmt.Fprintf(tw, ", oldest %s old", time.Duration(st.Outbox.OldestUnpushedAgeSec)*time.Second)
		}
		fmt.Fprintf(tw, "\nlast push\t%s\nlast pull\t%s\n", ago(st.LastPushAt), ago(st.LastPullAt))
		fmt.Fprintf(tw, "failures\t%d in a row", st.ConsecutiveFailures)
		if st.LastError != "" {
			fmt.Fprintf(tw, " (last %s: %s)", ago(st.LastErrorAt), st.LastError)
		}
		fmt.Fprintf(tw, "\nclock skew\t%s (this node minus the cloud)\n", time.Duration(st.ClockSkewMS)*time.Millisecond)
		fmt.Fprintf(tw, "configuration\trevision %d; cloud stock movements up to %d\n", st.Cursor.ConfigRevision, st.Cursor.StockSeq)
		if r := st.Restore; r != nil {
			fmt.Fprintf(tw, "restore\tfrom %s at %s", r.From, r.At.UTC().Format(time.RFC3339))
			if r.Pending {
				fmt.Fprintf(tw, ": waiting for the cloud's watermark before pushing (the backup's outbox ended at %d)", r.Head)
			}
			fmt.Fprintln(tw)
		}
		printStaffPresence(tw, staff, recorded, time.Now())
		return nil
	}
	return cmd
}

// staffPresenceStale is how old a running node's presence snapshot may be
// before status doubts it: the node rewrites it every minute at least.
const staffPresenceStale = 3 * time.Minute

// printStaffPresence prints the tablets the running node last recorded as
// connected, and the stations alerted as absent. The status command reads
// the data directory, not the node, so it says how old the record is and
// doubts one the node should have refreshed by now.
func printStaffPresence(w io.Writer, p sqlite.StaffPresence, recorded bool, now time.Time) {
	age := now.Sub(p.ObservedAt).Round(time.Second)
	switch {
	case !recorded:
		fmt.Fprintf(w, "tablets\tunknown (no node has served from this directory yet)\n")
		return
	case !p.Running:
		fmt.Fprintf(w, "tablets\tunknown: the node stopped %s ago (%s)\n", age, p.ObservedAt.UTC().Format(time.RFC3339))
		return
	}
	fmt.Fprintf(w, "tablets\t%d connected, as the node recorded %s ago", len(p.Tablets), age)
	if age > staffPresenceStale {
		fmt.Fprintf(w, " (stale: is the node still running?)")
	}
	fmt.Fprintln(w)
	for _, t := range p.Tablets {
		fmt.Fprintf(w, "\t  %s, station %s, since %s (client %s)\n", t.Username, t.Station, t.Since.UTC().Format(time.RFC3339), t.ClientID)
	}
	for _, a := range p.Absent {
		station := a.Station
		if station == "" {
			station = "(lines without a station)"
		}
		fmt.Fprintf(w, "staff absent\t%s: no tablet since %s, %d open orders waiting\n", station, a.Since.UTC().Format(time.RFC3339), a.OpenOrders)
	}
}

func ago(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return fmt.Sprintf("%s ago (%s)", time.Since(*t).Round(time.Second), t.UTC().Format(time.RFC3339))
}
