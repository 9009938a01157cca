package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/backup"
	"github.com/pantry/pantry/edge/sqlite"
)

// Exit codes of `pantry edge backup` and `pantry edge restore`, as their
// Long help documents them. 1 is any other failure.
const (
	exitUsage       = 2 // a flag or file the technician must change
	exitNodeRunning = 3 // restore: the node runs on the directory
	exitBadBackup   = 4 // the backup (or its copy) is not a usable Pantry database
	exitOtherNode   = 5 // restore: the backup is another node's or site's
)

func newEdgeBackupCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	var dir, out string
	var gz, asJSON bool
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Copy the node's database to a file, while it serves",
		Long: `Copy the node's database to a file: a consistent copy at one instant, taken
while the node serves orders (it never waits for the copy). The copy is
checked before it is kept (SQLite's integrity check; its orders and outbox
must lie between what the database held just before and just after), written
beside FILE, synced and renamed, so FILE is either a whole, checked backup or
not there at all. A backup never replaces a file.

The backup holds the node's cloud credential: keep it private (it is written
with mode 0600). Restore it with pantry edge restore.

Exit codes:
  0  the backup is written and checked
  1  it failed (a full disk, say); nothing is left at FILE
  2  --out is missing, FILE exists or its directory does not, or --data holds no node
  4  the copy did not check (is the node's database damaged? see pantry edge doctor);
     nothing is left at FILE`,
	}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	dataDir(e, &dir, "the node's data directory")
	cmd.Flags().StringVar(&out, "out", "", "the backup file to write (must not exist)")
	cmd.Flags().BoolVar(&gz, "gzip", false, "compress the backup (restore recognises it by itself)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		if out == "" {
			return &exitError{code: exitUsage, msg: "pass --out with the file to write, e.g. --out /var/backups/pantry-$(date +%F).db.gz --gzip"}
		}
		res, err := backup.Backup(cmd.Context(), backup.BackupOptions{DataDir: dir, Out: out, Gzip: gz})
		if err != nil {
			return backupExit(err)
		}
		if asJSON {
			return json.NewEncoder(stdout).Encode(res)
		}
		printBackup(stdout, res)
		return nil
	}
	return cmd
}

// backupExit gives a failed backup or restore its exit code.
func backupExit(err error) error {
	code := 1
	switch {
	case errors.Is(err, backup.ErrNoData), errors.Is(err, backup.ErrExists), errors.Is(err, backup.ErrNoFile):
		code = exitUsage
	case errors.Is(err, edge.ErrNodeRunning):
		code = exitNodeRunning
	case errors.Is(err, sqlite.ErrInvalidDatabase):
		code = exitBadBackup
	case errors.Is(err, backup.ErrOtherNode), errors.Is(err, backup.ErrOtherSite):
		code = exitOtherNode
	}
	return &exitError{code: code, msg: err.Error()}
}

func printBackup(w io.Writer, res backup.BackupResult) {
	who := "a node that is not enrolled (demo)"
	if res.Enrolled {
		who = fmt.Sprintf("node %s of site %q", res.NodeID, res.SiteName)
	}
	kind := "SQLite"
	if res.Gzip {
		kind = "gzipped SQLite"
	}
	fmt.Fprintf(w, "Backed up %s to %s (%s, %s, checked).\n", who, res.File, kind, bytesText(res.Bytes))
	fmt.Fprintf(w, "It holds %d orders and the outbox up to seq %d. SHA-256 %s\n", res.Orders, res.OutboxLastSeq, res.SHA256)
	if res.Enrolled {
		fmt.Fprintln(w, "It holds the node's cloud credential: keep it private.")
	}
	if res.RestorePending {
		fmt.Fprintln(w, "Note: this node was restored from a backup and has not reached the cloud since. Restoring this")
		fmt.Fprintln(w, "backup after it has may make the cloud keep what was written in between as dead letters.")
	}
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func newEdgeRestoreCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	var opts backup.RestoreOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Put a backup back as the node's database (the node must be stopped)",
		Long: `Put a backup that pantry edge backup wrote (gzipped or not) back as the node's
database. The node must be stopped: restore refuses while it runs, and no
node starts while it works. The backup is checked first (SQLite's integrity
check, Pantry's tables, a schema this version can run), and must be this
node's: a backup of another site is refused, and one of another node of the
same site too unless --force. A directory enrolled again since the backup
keeps its newer identity. The database it replaces is moved, never deleted,
to DIR/replaced-TIMESTAMP/. A refused or failed restore changes nothing.

Restoring is safe for replication. The restored node keeps taking orders at
once, but pushes nothing until it has asked the cloud how far the node got
(GET /sync/v1/node); it then numbers what it wrote since the restore after
that, so the cloud applies every new order exactly once, and keeps the
orders the backup lacks as they were last pushed. What the backup lacks
stays missing at the node: orders taken after the backup (the dashboard
still lists them; those still open there are no longer on the tablets'
queue, so check them with the pantry staff), attendee sessions (phones scan
the room's QR code again), tablets' sign-ins, and the stock those orders
moved (count the stock after a restore). The cloud's catalog and stock
movements come back by themselves.

Exit codes:
  0  restored
  1  it failed; the directory is as it was unless the message says otherwise
  2  --from is missing or no file is there
  3  a node is running on the data directory: stop it first
  4  the file is not a usable backup (damaged, not Pantry's, or from a newer version)
  5  the backup is another node's (--force restores it) or another site's`,
	}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	dataDir(e, &opts.DataDir, "the node's data directory (created if missing)")
	cmd.Flags().StringVar(&opts.From, "from", "", "the backup file to restore")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "restore a backup of another node of the same site")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		if opts.From == "" {
			return &exitError{code: exitUsage, msg: "pass --from with the backup file to restore"}
		}
		res, err := backup.Restore(cmd.Context(), opts)
		if err != nil {
			return backupExit(err)
		}
		if asJSON {
			return json.NewEncoder(stdout).Encode(res)
		}
		printRestore(stdout, opts.DataDir, res)
		return nil
	}
	return cmd
}

func printRestore(w io.Writer, dir string, res backup.RestoreResult) {
	b := res.Backup
	fmt.Fprintf(w, "Restored %s into %s: %d orders, outbox up to seq %d.\n", res.From, dir, b.Orders, b.OutboxLastSeq)
	switch {
	case res.KeptIdentity:
		fmt.Fprintf(w, "The directory was enrolled again since the backup: it stays node %s.\n", res.NodeID)
	case res.Forced:
		fmt.Fprintf(w, "Forced: the node now runs as the backup's node %s. If the cloud refuses it, enroll it again with pantry edge init.\n", res.NodeID)
	case res.NodeID != "":
		fmt.Fprintf(w, "Node %s of site %s.\n", res.NodeID, res.SiteID)
	}
	if res.Replaced != "" {
		fmt.Fprintf(w, "The database it replaced is in %s.\n", res.Replaced)
	}
	if res.Unreadable {
		fmt.Fprintln(w, "(That database could not be read, so whose it was could not be compared.)")
	}
	if res.Pending {
		fmt.Fprintf(w, "Once started, the node asks the cloud how far it got before pushing again; orders are taken meanwhile.\n")
		fmt.Fprintf(w, "Orders taken after the backup stay in the cloud but not here: count the stock, and check their open ones (the dashboard lists them).\n")
	}
	fmt.Fprintf(w, "Start it with: pantry edge serve --data %s\n", dir)
}
