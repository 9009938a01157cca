package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
)

// openExisting opens the store of an existing node's data dir, refusing to
// create one where there is none (a typo in --data must not make a new node).
func openExisting(cmd *cobra.Command, dir string) (*sqlite.Store, error) {
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); err != nil {
		return nil, fmt.Errorf("no edge node data in %s: pass --data with the node's data directory", dir)
	}
	return sqlite.Open(cmd.Context(), dir, sqlite.Options{})
}

func newEdgeOutboxCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	var dir string
	var asJSON bool
	var after int64
	var limit int
	cmd := &cobra.Command{Use: "outbox", Short: "List the outbox: events waiting for, or already sent to, the cloud"}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	dataDir(e, &dir, "data directory")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().Int64Var(&after, "after", 0, "list events after this sequence number")
	cmd.Flags().IntVar(&limit, "limit", 1000, "list at most this many events")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		s, err := openExisting(cmd, dir)
		if err != nil {
			return err
		}
		defer s.Close()
		events, err := s.Outbox(cmd.Context(), after, limit)
		if err != nil {
			return err
		}
		if asJSON {
			if events == nil {
				events = []pantry.OutboxEvent{}
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"events": events})
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tTYPE\tENTITY\tCREATED\tPUSHED")
		for _, ev := range events {
			pushed := "no"
			if ev.PushedAt != nil {
				pushed = ev.PushedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", ev.Seq, ev.Type, ev.EntityID, ev.CreatedAt.Format(time.RFC3339), pushed)
		}
		return tw.Flush()
	}
	return cmd
}

func newEdgeTabletCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "tablet", Short: "Manage staff tablet logins on this node"}
	var dir, username, name string
	add := &cobra.Command{Use: "add", Short: "Create a tablet login and print its password once"}
	e := &env{getenv: getenv, flags: add.Flags()}
	dataDir(e, &dir, "data directory")
	add.Flags().StringVar(&username, "username", "", "the tablet's username")
	add.Flags().StringVar(&name, "name", "", "a label, e.g. \"2nd floor pantry\"")
	_ = add.MarkFlagRequired("username")
	add.RunE = func(cmd *cobra.Command, _ []string) error {
		s, err := openExisting(cmd, dir)
		if err != nil {
			return err
		}
		defer s.Close()
		password := pantry.NewSecret(12)
		if err := s.AddTablet(cmd.Context(), username, password, name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Tablet %s created. Password (shown once): %s\n", username, password)
		return nil
	}
	cmd.AddCommand(add, newEdgeTabletRemoveCmd(getenv, stdout), newEdgeTabletWatchCmd(getenv, stdout))
	return cmd
}

// newEdgeTabletRemoveCmd removes a tablet login. A running node notices
// within seconds and disconnects the tablet from its broker.
func newEdgeTabletRemoveCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	var dir, username string
	cmd := &cobra.Command{Use: "remove", Short: "Remove a tablet login; a running node disconnects the tablet within seconds"}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	dataDir(e, &dir, "data directory")
	cmd.Flags().StringVar(&username, "username", "", "the tablet's username")
	_ = cmd.MarkFlagRequired("username")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		s, err := openExisting(cmd, dir)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.RemoveTablet(cmd.Context(), username); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Tablet %s removed: its logins are refused, and a running node disconnects it within seconds.\n", username)
		return nil
	}
	return cmd
}
