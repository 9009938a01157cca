package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/edge/syncer"
	"github.com/pantry/pantry/internal/buildinfo"
	"github.com/pantry/pantry/syncproto"
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
			"`pantry cloud site enroll-token --site ID` or POST /api/v1/sites/{id}/enrollment-tokens.",
	}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	e.String(&dir, "data", "PANTRY_DATA", "./pantry-data", "data directory (created if missing)")
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
		// The directory will hold the node's credential: private to the
		// user the node runs as, whatever it was before.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("data directory %s cannot be used: %w", dir, err)
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data directory %s cannot be made private: %w", dir, err)
		}
		ctx := cmd.Context()
		store, err := sqlite.Open(ctx, dir, sqlite.Options{})
		if err != nil {
			return fmt.Errorf("data directory %s cannot be used: %w", dir, err)
		}
		defer store.Close()
		// Refuse what the store would refuse before the token is spent.
		var previous string
		if id, ok, err := store.Identity(ctx); err != nil {
			return err
		} else if ok {
			previous = id.NodeID
			fmt.Fprintf(cmd.ErrOrStderr(), "note: this data directory is enrolled as node %s of site %s; enrolling again replaces its credential\n", id.NodeID, id.SiteID)
		} else if site, err := store.Site(ctx); err == nil {
			return fmt.Errorf("data directory %s already runs site %q without enrollment (a demo): use a fresh --data directory", dir, site.Name)
		}
		client := &syncer.Client{BaseURL: cloudURL, HTTP: &http.Client{Timeout: time.Minute}}
		enrolled, err := client.Enroll(ctx, syncproto.EnrollRequest{
			Version: syncproto.Version, Token: token, Name: name, SoftwareVersion: buildinfo.Version(), PreviousNodeID: previous,
		})
		if err != nil {
			var ce *syncer.Error
			if errors.As(err, &ce) {
				return fmt.Errorf("the cloud refused the enrollment: %s", ce.Message)
			}
			return fmt.Errorf("cannot reach the cloud at %s: %w", cloudURL, err)
		}
		client.Credential = enrolled.Credential
		pull := func(c syncproto.Cursor) (syncproto.PullResponse, error) {
			return client.Pull(ctx, syncproto.PullRequest{
				Version: syncproto.Version, NodeID: enrolled.NodeID, SoftwareVersion: buildinfo.Version(),
				Cursor: c, SentAt: time.Now().UTC(),
			})
		}
		// The token is spent from here on: say so if what follows fails.
		spent := func(err error) error {
			return fmt.Errorf("%w (the enrollment token has been used: ask an admin for a new one and run init again)", err)
		}
		page, err := pull(syncproto.Cursor{})
		if err != nil {
			return spent(fmt.Errorf("pull the site's configuration: %w", err))
		}
		if page.Config == nil {
			return spent(errors.New("the cloud sent no configuration for the site"))
		}
		id := sqlite.Identity{NodeID: enrolled.NodeID, OrgID: enrolled.OrgID, SiteID: enrolled.SiteID,
			CloudURL: cloudURL, Credential: enrolled.Credential, EnrolledAt: time.Now().UTC()}
		if err := store.Enroll(ctx, id, page); err != nil {
			return spent(err)
		}
		cfg := page.Config
		for page.More {
			if page, err = pull(page.Cursor); err != nil {
				return fmt.Errorf("pull stock movements: %w (the node is enrolled; serve will finish the pull)", err)
			}
			if err := store.ApplyPull(ctx, page); err != nil {
				return fmt.Errorf("apply stock movements: %w (the node is enrolled; serve will finish the pull)", err)
			}
		}
		if asJSON {
			return json.NewEncoder(stdout).Encode(map[string]any{
				"node_id": id.NodeID, "org_id": id.OrgID, "site_id": id.SiteID, "site_name": cfg.Site.Name,
				"config_revision": cfg.Revision, "rooms": len(cfg.Spaces), "items": len(cfg.Items),
			})
		}
		fmt.Fprintf(stdout, "Enrolled node %s for site %q (%d rooms, %d items, configuration revision %d).\n",
			id.NodeID, cfg.Site.Name, len(cfg.Spaces), len(cfg.Items), cfg.Revision)
		fmt.Fprintf(stdout, "Start it with: pantry edge serve --data %s\n", dir)
		return nil
	}
	return cmd
}

func newEdgeStatusCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show this node's sync health: outbox depth and age, last push and pull, failures, clock skew",
	}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	e.String(&dir, "data", "PANTRY_DATA", "./pantry-data", "the node's data directory")
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
		if asJSON {
			return json.NewEncoder(stdout).Encode(st)
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
		return nil
	}
	return cmd
}

func ago(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return fmt.Sprintf("%s ago (%s)", time.Since(*t).Round(time.Second), t.UTC().Format(time.RFC3339))
}
