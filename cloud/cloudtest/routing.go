package cloudtest

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"sync"
	"testing"

	"github.com/pantry/pantry/cloud/postgres"
	"github.com/pantry/pantry/cloud/server"
	"github.com/pantry/pantry/internal/pgtest"
)

// MultiTaskError is the start of the error Citus raises, under
// RoutedSetting, for a query that needs more than one shard.
const MultiTaskError = "multi-task query about to be executed"

// RoutedSetting is the Citus setting StartRouted gives every connection
// of the cloud: citus.multi_task_query_log_level, the level at which the
// coordinator reports a query it plans as more than one task (one task
// per shard it reads or writes). At "error" such a query fails instead
// of running, so a tenant query that fans out to every shard (no
// organization_id filter Citus can prune on; row-level security alone
// does not prune) is a 500 and a logged error, not a slow success. The
// check is made when Citus plans a query, inside functions too (their
// statements are planned through the same hook), so it covers the
// SECURITY DEFINER lookups and pantry_notify_orders as well.
const RoutedSetting = "citus.multi_task_query_log_level"

// Log collects what a server logs, for a test to read.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer for slog's handler.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String is everything logged so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// StartRouted migrates a new database on a Citus cluster, whatever
// PANTRY_TEST_DB says (pgtest.NewCitusDatabase: a machine without Citus
// fails and says how to install it), distributes it, and serves it with
// RoutedSetting at "error" on every connection of the cloud: its pool,
// whose connections act as the service role, and its listener. The
// test's own connections (Server.DBURL, Fingerprint) go without it. It
// returns the server and what the server logs, at debug level.
//
// The setting travels in the connection's startup parameters rather
// than as ALTER ROLE pantry_service SET: the cloud connects as the
// migrator and switches to the service role with SET ROLE, and a role's
// settings apply at login only.
func StartRouted(tb testing.TB, configure ...func(*server.Config)) (*Server, *Log) {
	tb.Helper()
	dbURL := pgtest.NewCitusDatabase(tb)
	if _, err := postgres.Migrate(context.Background(), dbURL, postgres.MigrateOptions{Citus: true}); err != nil {
		tb.Fatalf("migrate with Citus: %v", err)
	}
	routed, err := withParam(dbURL, RoutedSetting, "error")
	if err != nil {
		tb.Fatal(err)
	}
	log := &Log{}
	configure = append([]func(*server.Config){func(cfg *server.Config) {
		cfg.DatabaseURL = routed
		cfg.Log = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}}, configure...)
	return StartOn(tb, dbURL, configure...), log
}

// withParam is the database URL raw with a run-time parameter added:
// pgx sends a query parameter it does not know itself to the server as a
// setting of the connection.
func withParam(raw, name, value string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
