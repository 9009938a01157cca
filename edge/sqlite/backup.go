package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Backups of a node's database, taken and checked while the node runs.
// These work on files, not on an open Store: a backup is taken by another
// process than the node's (WAL lets it read while the node writes), and a
// backup is checked before anything opens it as a store, which would
// migrate it.

// ErrInvalidDatabase is the answer for a file that is not a usable Pantry
// database: not SQLite, damaged, not Pantry's, or of a newer schema than
// this build knows. The error wrapping it says which.
var ErrInvalidDatabase = errors.New("not a usable Pantry database")

// DatabaseInfo is what a Pantry database file holds, in brief.
type DatabaseInfo struct {
	// SchemaVersion is the newest migration applied to it.
	SchemaVersion int  `json:"schema_version"`
	Enrolled      bool `json:"enrolled"`
	// Identity is the node's enrollment (credential included, so never
	// printed), when Enrolled.
	Identity Identity `json:"-"`
	NodeID   string   `json:"node_id,omitempty"`
	SiteID   string   `json:"site_id,omitempty"`
	// SiteName is the site's name, "" for a database without one.
	SiteName string `json:"site_name,omitempty"`
	Demo     bool   `json:"demo"`
	// OutboxLastSeq is the newest outbox event's seq (0: none).
	OutboxLastSeq int64 `json:"outbox_last_seq"`
	Orders        int64 `json:"orders"`
	// RestorePending is set for a database restored from a backup that
	// has not reached the cloud since (restore.go).
	RestorePending bool `json:"restore_pending"`
}

// SchemaVersion is the newest migration this build has: the newest
// schema it can open.
func SchemaVersion() int {
	names, _ := fs.Glob(migrations, "migrations/*.sql") // the pattern is valid
	latest := 0
	for _, name := range names {
		n, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "migrations/"), "_", 2)[0])
		if err == nil {
			latest = max(latest, n)
		}
	}
	return latest
}

// sqliteMagic starts every SQLite database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// fileURI is path as SQLite's URI filename, read-only when ro is set:
// the characters a URI gives meaning to are escaped.
func fileURI(path string, ro bool) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	q := "?_pragma=busy_timeout(10000)"
	if ro {
		q += "&mode=ro"
	}
	return "file:" + r.Replace(filepath.ToSlash(path)) + q
}

// openFile opens a database file with one connection, never creating it.
func openFile(ctx context.Context, path string, ro bool) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", fileURI(path, ro))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Inspect checks the database file at path without changing it, and says
// what it holds. A file that is not a usable Pantry database is an
// ErrInvalidDatabase saying why: not SQLite, failing SQLite's integrity
// check, without Pantry's tables, or at a schema newer than this build's.
func Inspect(ctx context.Context, path string) (DatabaseInfo, error) {
	if err := checkMagic(path); err != nil {
		return DatabaseInfo{}, err
	}
	db, err := openFile(ctx, path, true)
	if err != nil {
		return DatabaseInfo{}, fmt.Errorf("%w: %s cannot be opened: %v", ErrInvalidDatabase, path, err)
	}
	defer db.Close()
	if err := checkIntegrity(ctx, db); err != nil {
		return DatabaseInfo{}, err
	}
	info, err := inspect(ctx, db)
	switch {
	case err == nil:
		return info, nil
	case ctx.Err() != nil || errors.Is(err, ErrInvalidDatabase):
		return info, fmt.Errorf("inspect %s: %w", path, err)
	}
	// A file that passed the integrity check and still cannot be read as
	// Pantry's is not Pantry's (or not of a schema it ever had).
	return info, fmt.Errorf("%w: %s cannot be read as an edge node's database: %v", ErrInvalidDatabase, path, err)
}

// checkMagic refuses a file that is not an SQLite database (a gzip file
// is the caller's to inflate first).
func checkMagic(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidDatabase, err)
	}
	defer f.Close()
	head := make([]byte, len(sqliteMagic))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, sqliteMagic) {
		return fmt.Errorf("%w: %s is not an SQLite database", ErrInvalidDatabase, path)
	}
	return nil
}

// checkIntegrity runs SQLite's integrity check: every page, index and
// constraint of the file.
func checkIntegrity(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check(10)`)
	if err != nil {
		return fmt.Errorf("%w: integrity check: %v", ErrInvalidDatabase, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("%w: integrity check: %v", ErrInvalidDatabase, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%w: integrity check: %v", ErrInvalidDatabase, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: it fails SQLite's integrity check: %s", ErrInvalidDatabase, strings.Join(problems, "; "))
	}
	return nil
}

// pantryTables are the tables every Pantry database has had since its
// first schema, or since enrollment came (0002).
var pantryTables = []string{"schema_migrations", "meta", "orders", "outbox", "sync_state", "enrollment"}

// inspect reads what Inspect reports from an open, checked database.
func inspect(ctx context.Context, db *sql.DB) (DatabaseInfo, error) {
	var info DatabaseInfo
	for _, table := range pantryTables {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil {
			return info, fmt.Errorf("%w: %v", ErrInvalidDatabase, err)
		}
		if n == 0 {
			return info, fmt.Errorf("%w: it has no %s table, so it is not an edge node's database", ErrInvalidDatabase, table)
		}
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&info.SchemaVersion); err != nil {
		return info, fmt.Errorf("schema version: %w", err)
	}
	if latest := SchemaVersion(); info.SchemaVersion > latest {
		return info, fmt.Errorf("%w: it was written by a newer pantry (schema %d; this one knows up to %d): restore it with that version or a newer one",
			ErrInvalidDatabase, info.SchemaVersion, latest)
	}
	id, enrolled, err := loadIdentity(ctx, db)
	if err != nil {
		return info, fmt.Errorf("identity: %w", err)
	}
	info.Enrolled, info.Identity, info.NodeID, info.SiteID = enrolled, id, id.NodeID, id.SiteID
	if info.Demo, err = isDemo(ctx, db); err != nil {
		return info, err
	}
	if !enrolled {
		if info.SiteID, err = getMeta(ctx, db, "site_id"); err != nil {
			return info, err
		}
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE((SELECT name FROM sites WHERE id = ?), ''),
		(SELECT COALESCE(MAX(seq), 0) FROM outbox), (SELECT COUNT(*) FROM orders)`, info.SiteID).
		Scan(&info.SiteName, &info.OutboxLastSeq, &info.Orders); err != nil {
		return info, fmt.Errorf("count: %w", err)
	}
	if info.SchemaVersion >= restoreSchema {
		var head sql.NullInt64
		if err := db.QueryRowContext(ctx, `SELECT restored_head FROM sync_state WHERE id = 1`).Scan(&head); err != nil {
			return info, fmt.Errorf("restore state: %w", err)
		}
		info.RestorePending = head.Valid
	}
	return info, nil
}

// restoreSchema is the migration that added the restore state.
const restoreSchema = 6

// ReadIdentity reads the enrollment of the database file at path without
// checking the file or changing it: a damaged database still says whose
// it is, when it can. ok is false for a database that is not enrolled.
func ReadIdentity(ctx context.Context, path string) (id Identity, ok bool, err error) {
	db, err := openFile(ctx, path, true)
	if err != nil {
		return Identity{}, false, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	if id, ok, err = loadIdentity(ctx, db); err != nil {
		return Identity{}, false, fmt.Errorf("read identity of %s: %w", path, err)
	}
	return id, ok, nil
}

// OutboxEventID returns the id of the outbox event at seq in the database
// file at path, or "" if it holds none there. It changes nothing.
func OutboxEventID(ctx context.Context, path string, seq int64) (string, error) {
	db, err := openFile(ctx, path, true)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	var id string
	err = db.QueryRowContext(ctx, `SELECT id FROM outbox WHERE seq = ?`, seq).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read outbox of %s: %w", path, err)
	}
	return id, nil
}

// Snapshot copies the database file at path, which a running node may be
// writing, into out, a file that must not exist yet (or be empty). The
// copy is VACUUM INTO's: one read transaction, so it is the database at
// one instant, each order in it whole or not at all, compacted, and a
// single file (no WAL) that SQLite opens as it is. Nothing waits for it:
// WAL lets the node commit meanwhile. The copy is then checked as Inspect checks a
// file, and its outbox and orders must lie between what the database
// held just before the copy and just after (both only grow), for the
// same node. A copy that fails is removed.
func Snapshot(ctx context.Context, path, out string) (DatabaseInfo, error) {
	if fi, err := os.Lstat(out); err == nil && (!fi.Mode().IsRegular() || fi.Size() > 0) {
		return DatabaseInfo{}, fmt.Errorf("copy %s: %s already exists", path, out)
	}
	info, err := snapshot(ctx, path, out)
	if err != nil {
		os.Remove(out)
		return DatabaseInfo{}, fmt.Errorf("copy %s: %w", path, err)
	}
	return info, nil
}

func snapshot(ctx context.Context, path, out string) (DatabaseInfo, error) {
	abs, err := filepath.Abs(out)
	if err != nil {
		return DatabaseInfo{}, err
	}
	db, err := openFile(ctx, path, true)
	if err != nil {
		return DatabaseInfo{}, err
	}
	defer db.Close()
	before, err := inspect(ctx, db)
	if err != nil {
		return DatabaseInfo{}, err
	}
	// The target is an SQL string: quotes doubled. It is absolute, so
	// never read as a "file:" URI.
	if _, err := db.ExecContext(ctx, `VACUUM INTO '`+strings.ReplaceAll(abs, "'", "''")+`'`); err != nil {
		return DatabaseInfo{}, fmt.Errorf("vacuum into %s: %w", out, err)
	}
	after, err := inspect(ctx, db)
	if err != nil {
		return DatabaseInfo{}, err
	}
	copied, err := Inspect(ctx, abs)
	if err != nil {
		return DatabaseInfo{}, fmt.Errorf("the copy does not check: %w", err)
	}
	return copied, checkCopy(before, after, copied)
}

// checkCopy checks that a copy taken between before and after holds what
// it must.
func checkCopy(before, after, copied DatabaseInfo) error {
	switch {
	case copied.NodeID != before.NodeID || copied.SiteID != before.SiteID:
		return fmt.Errorf("the copy is of node %q at site %q, the database of node %q at site %q", copied.NodeID, copied.SiteID, before.NodeID, before.SiteID)
	case copied.OutboxLastSeq < before.OutboxLastSeq || copied.OutboxLastSeq > after.OutboxLastSeq:
		return fmt.Errorf("the copy's outbox ends at %d, outside %d..%d", copied.OutboxLastSeq, before.OutboxLastSeq, after.OutboxLastSeq)
	case copied.Orders < before.Orders || copied.Orders > after.Orders:
		return fmt.Errorf("the copy holds %d orders, outside %d..%d", copied.Orders, before.Orders, after.Orders)
	}
	return nil
}
