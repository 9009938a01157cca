package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"

	"github.com/pantry/pantry/internal/pantry"
)

// Reader is a read-only view of a node's database, beside a running node
// or on a stopped one, for `pantry edge doctor` and `tablet watch`.
// Unlike Open it never writes, never migrates and never creates a file in
// the data directory: doctor often runs as root, and a -wal or -shm file
// left there owned by root is exactly what stops the node's service user
// from opening its own database.
type Reader struct {
	db *sql.DB
	// s is a Store with only its read pool, so the Reader answers with
	// the Store's own queries rather than copies of them. Its writer is
	// never started; only read methods are called on it.
	s *Store
}

// OpenReader opens the database in dir read-only. A database without a
// -wal file has no writer (a running node always has one), so it is
// opened immutable, which needs no -shm file either; one with a -wal file
// is opened read-only in WAL mode, sharing the node's -shm.
func OpenReader(ctx context.Context, dir string) (*Reader, error) {
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r, err := openReader(ctx, path, !exists(path+"-wal"))
	if err != nil {
		return nil, err
	}
	if r.immutable() && exists(path+"-wal") {
		// A node started while we opened: immutable would read past its
		// writes. Share its WAL instead.
		r.Close()
		return openReader(ctx, path, false)
	}
	return r, nil
}

func openReader(ctx context.Context, path string, immutable bool) (*Reader, error) {
	q := url.Values{}
	q.Set("mode", "ro")
	if immutable {
		q.Set("immutable", "1")
	}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s read-only: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s read-only: %w", path, err)
	}
	return &Reader{db: db, s: &Store{path: path, r: db, now: time.Now}}, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func (r *Reader) immutable() bool {
	var mode string
	// A connection opened immutable reports journal mode "delete": it
	// never looks at the WAL.
	if err := r.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		return false
	}
	return mode != "wal"
}

// Close closes the database.
func (r *Reader) Close() error { return r.db.Close() }

// maxIntegrityErrors bounds the problems IntegrityCheck reports: the first
// few say what is wrong as well as a thousand would.
const maxIntegrityErrors = 20

// IntegrityCheck runs SQLite's quick_check (full: integrity_check, which
// also compares every index with its table and takes longer) and returns
// the problems it found; none means the database is sound.
func (r *Reader) IntegrityCheck(ctx context.Context, full bool) ([]string, error) {
	pragma := fmt.Sprintf("PRAGMA quick_check(%d)", maxIntegrityErrors)
	if full {
		pragma = fmt.Sprintf("PRAGMA integrity_check(%d)", maxIntegrityErrors)
	}
	problems, err := r.integrity(ctx, pragma)
	if corrupt(err) {
		// Damage bad enough that the check itself cannot read on is a
		// finding, not a failure to check.
		return append(problems, err.Error()), nil
	}
	if err != nil {
		return nil, fmt.Errorf("integrity check: %w", err)
	}
	return problems, nil
}

func (r *Reader) integrity(ctx context.Context, pragma string) ([]string, error) {
	rows, err := r.db.QueryContext(ctx, pragma)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return problems, err
		}
		// One row may hold several problems, one a line, under a
		// heading naming the schema.
		for _, p := range strings.Split(line, "\n") {
			if p = strings.TrimSpace(p); p != "ok" && p != "" && !strings.HasPrefix(p, "*** in database") {
				problems = append(problems, p)
			}
		}
	}
	return problems, rows.Err()
}

// corrupt reports an error SQLite gives for a damaged file.
func corrupt(err error) bool {
	var se *sqlite3.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3lib.SQLITE_CORRUPT, sqlite3lib.SQLITE_NOTADB:
		return true
	}
	return false
}

// Identity is Store.Identity.
func (r *Reader) Identity(ctx context.Context) (Identity, bool, error) { return r.s.Identity(ctx) }

// OutboxStats is Store.OutboxStats.
func (r *Reader) OutboxStats(ctx context.Context) (OutboxStats, error) { return r.s.OutboxStats(ctx) }

// SyncState is Store.SyncState.
func (r *Reader) SyncState(ctx context.Context) (SyncState, error) { return r.s.SyncState(ctx) }

// LastStaffPresence is Store.LastStaffPresence.
func (r *Reader) LastStaffPresence(ctx context.Context) (StaffPresence, bool, error) {
	return r.s.LastStaffPresence(ctx)
}

// IsDemo reports whether the database runs a --demo site.
func (r *Reader) IsDemo(ctx context.Context) (bool, error) {
	return isDemo(ctx, r.db)
}

// Site is Store.Site.
func (r *Reader) Site(ctx context.Context) (pantry.Site, error) { return r.s.Site(ctx) }
