package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Migrations are append-only: never edit a file once it has shipped. Each
// file is NNNN_name.sql, numbered from 0001 without gaps; its number is the
// schema version it brings the database to.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded migration file.
type migration struct {
	version int
	name    string // file name, e.g. 0001_init.sql
	sql     string
}

// loadMigrations reads and checks the embedded migrations once.
var loadMigrations = sync.OnceValues(func() ([]migration, error) {
	return parseMigrations(migrationFiles)
})

// parseMigrations reads the migrations/*.sql files of fsys in version order
// and refuses a gap or a duplicate number: either would make "version N"
// mean different schemas on different databases.
func parseMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var out []migration
	for _, name := range names {
		base := path.Base(name)
		prefix, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(prefix)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and an underscore", base)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		out = append(out, migration{version: v, name: base, sql: string(body)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d (versions start at 1 and have no gaps or duplicates)", m.name, i+1)
		}
	}
	return out, nil
}

// SchemaVersion is the schema version this binary needs: the number of its
// embedded migrations.
func SchemaVersion() int {
	ms, err := loadMigrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// SchemaError reports a database whose schema version is not the one this
// binary was built for. Have < Want: migrations are pending. Have > Want: a
// newer binary migrated the database, and this one does not know what the
// extra migrations changed.
type SchemaError struct{ Have, Want int }

// Error says which way the versions differ and what to do about it.
func (e *SchemaError) Error() string {
	if e.Have < e.Want {
		return fmt.Sprintf("the database schema is at version %d but this binary needs %d: run `pantry cloud migrate`", e.Have, e.Want)
	}
	return fmt.Sprintf("the database schema is at version %d, newer than this binary's %d: a newer pantry migrated it, so run that version", e.Have, e.Want)
}

// CheckSchema returns a *SchemaError unless the database db reaches (a
// pool, a connection or a transaction) is at exactly the schema version
// this binary needs. A database that was never migrated is at version 0.
func CheckSchema(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	have, err := databaseVersion(ctx, db)
	if err != nil {
		return err
	}
	if have != len(ms) {
		return &SchemaError{Have: have, Want: len(ms)}
	}
	return nil
}

// databaseVersion reads the highest applied migration; 0 when the
// migrations table does not exist yet.
func databaseVersion(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	var v int
	err := db.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42P01": // undefined_table
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("read schema version (has `pantry cloud migrate` run?): %w", err)
	}
	return v, nil
}
