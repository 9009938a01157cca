// Package backup copies an edge node's database out of its data directory
// while the node serves (`pantry edge backup`) and puts such a copy back
// (`pantry edge restore`), safely for replication: a restored node learns
// the cloud's watermark before it pushes again and numbers what it wrote
// meanwhile after it (the rule is in edge/sqlite/restore.go).
package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pantry/pantry/edge/sqlite"
)

// Errors a technician can act on; the errors wrapping them say more.
var (
	// ErrNoData: the data directory holds no node's database.
	ErrNoData = errors.New("no edge node data")
	// ErrExists: a backup never replaces a file.
	ErrExists = errors.New("the output file exists")
	// ErrNoFile: the backup to restore is not there.
	ErrNoFile = errors.New("no backup file")
)

// BackupOptions say what to copy where.
type BackupOptions struct {
	// DataDir is the node's data directory; the node may be running.
	DataDir string
	// Out is the backup file to write; it must not exist.
	Out string
	// Gzip compresses the backup.
	Gzip bool
}

// BackupResult is the backup written, and what it holds.
type BackupResult struct {
	File   string `json:"file"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	Gzip   bool   `json:"gzip"`
	sqlite.DatabaseInfo
}

// Backup copies the node's database in opts.DataDir into opts.Out, while
// the node runs if it does: a consistent copy at one instant
// (sqlite.Snapshot: SQLite's VACUUM INTO in one read transaction), checked
// (SQLite's integrity check; its outbox and orders between what the
// database held before and after the copy), optionally gzipped and then
// read back, written to a temporary file beside Out, synced, and renamed
// to Out. Nothing is left at Out, or beside it, when it fails.
func Backup(ctx context.Context, opts BackupOptions) (BackupResult, error) {
	db := filepath.Join(opts.DataDir, sqlite.FileName)
	if _, err := os.Stat(db); err != nil {
		return BackupResult{}, fmt.Errorf("%w in %s (%v): pass --data with the node's data directory", ErrNoData, opts.DataDir, err)
	}
	out, err := filepath.Abs(opts.Out)
	if err != nil {
		return BackupResult{}, fmt.Errorf("backup: %w", err)
	}
	if _, err := os.Lstat(out); err == nil {
		return BackupResult{}, fmt.Errorf("%w: %s is there already: a backup never replaces a file; choose another name", ErrExists, out)
	}
	if fi, err := os.Stat(filepath.Dir(out)); err != nil || !fi.IsDir() {
		return BackupResult{}, fmt.Errorf("backup: the directory of %s does not exist: create it first", out)
	}
	res, err := backup(ctx, db, out, opts.Gzip)
	if err != nil {
		return BackupResult{}, fmt.Errorf("backup: %w", err)
	}
	return res, nil
}

func backup(ctx context.Context, db, out string, gz bool) (BackupResult, error) {
	raw, err := tempFile(out) // empty: VACUUM INTO fills it, keeping its mode
	if err != nil {
		return BackupResult{}, err
	}
	defer os.Remove(raw)
	info, err := sqlite.Snapshot(ctx, db, raw)
	if err != nil {
		return BackupResult{}, err
	}
	final := raw
	if gz {
		if final, err = compressChecked(ctx, raw, out); err != nil {
			return BackupResult{}, err
		}
		defer os.Remove(final)
	} else if err := syncFile(raw); err != nil {
		return BackupResult{}, err
	}
	if _, err := os.Lstat(out); err == nil {
		return BackupResult{}, fmt.Errorf("%w: %s appeared while the backup was written", ErrExists, out)
	}
	if err := os.Rename(final, out); err != nil {
		return BackupResult{}, err
	}
	if err := syncDir(filepath.Dir(out)); err != nil {
		return BackupResult{}, err
	}
	size, sum, err := fileSum(out)
	if err != nil {
		return BackupResult{}, err
	}
	return BackupResult{File: out, Bytes: size, SHA256: sum, Gzip: gz, DatabaseInfo: info}, nil
}

// compressChecked gzips raw into a new temporary file beside out and
// reads it back.
func compressChecked(ctx context.Context, raw, out string) (string, error) {
	zipped, err := tempFile(out)
	if err != nil {
		return "", err
	}
	sum, err := compress(ctx, zipped, raw)
	if err == nil {
		err = checkGzip(ctx, zipped, sum)
	}
	if err != nil {
		os.Remove(zipped)
		return "", err
	}
	return zipped, nil
}

// syncFile syncs the file at path (VACUUM INTO's copy).
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
