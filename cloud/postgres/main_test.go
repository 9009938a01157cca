package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pantry/pantry/internal/pgtest"
)

// TestMain stops the test PostgreSQL that pgtest starts on first use.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// migratedDB returns a superuser URL to a new database at this binary's
// schema version, distributed when the tests run on Citus
// (PANTRY_TEST_DB=citus).
func migratedDB(tb testing.TB, opts MigrateOptions) string {
	tb.Helper()
	opts.Citus = pgtest.Citus()
	// A copy of a database migrated once per options (pgtest.NewDatabaseFrom).
	return pgtest.NewDatabaseFrom(tb, fmt.Sprintf("migrated %+v", opts), func(ctx context.Context, url string) error {
		_, err := Migrate(ctx, url, opts)
		return err
	})
}

// mustOpen opens a store on url, closed when the test ends.
func mustOpen(tb testing.TB, url string, opts Options) *Store {
	tb.Helper()
	s, err := Open(context.Background(), url, opts)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// mustConnect opens one connection on url, closed when the test ends.
func mustConnect(tb testing.TB, url string) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(func() { closeConn(conn) })
	return conn
}

// pgCode is the SQLSTATE in err's chain, or "".
func pgCode(err error) string {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pe.Code
	}
	return ""
}
