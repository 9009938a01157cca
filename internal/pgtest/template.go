package pgtest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Templates. Most tests want a database with the schema already in it,
// and on a Citus cluster making one costs seconds of the machine's CPU:
// the database and the extension on three nodes, then every migration and
// the distribution of every table. A template is such a database made
// once per test binary and never connected to again; each test gets a
// copy of it (CREATE DATABASE … TEMPLATE), on every node of a Citus
// cluster, which is a file copy.
//
// Citus refuses to carry CREATE DATABASE … TEMPLATE to the workers (only
// template1 is allowed), so each node copies its own database: the copy
// on the coordinator has the template's metadata (the same nodes, shards
// and placements), and the copy on each worker the template's shards
// under the same names, which is all a Citus database is. A template
// allows no connections, so that its Citus maintenance daemon, which
// would keep it in use, ends and does not come back.

// dbTemplate is one template database, built on first use.
type dbTemplate struct {
	once sync.Once
	name string
	err  error
}

// NewDatabaseFrom is NewDatabase with something in it: a copy of the
// database build made. build runs once per test binary and key, the
// first time a test asks for key, on a database of its own that then
// serves as the template of every copy; it must leave no session
// connected. A build that fails fails every test that asks for its key.
// The copy is dropped when the test ends; templates are dropped by Main.
func NewDatabaseFrom(tb testing.TB, key string, build func(ctx context.Context, url string) error) string {
	tb.Helper()
	srv := get(tb, defaultKind())
	t := srv.template(key)
	t.once.Do(func() { t.name, t.err = srv.buildTemplate(key, build) })
	if t.err != nil {
		tb.Fatalf("pgtest: template %q: %v", key, t.err)
	}
	name := "pgtest_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := srv.createDatabase(ctx, name, t.name); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	srv.dropAtCleanup(tb, name)
	return srv.urlFor(name, srv.url.User)
}

// template returns the server's template for key, made on first use.
func (s *server) template(key string) *dbTemplate {
	s.templatesMu.Lock()
	defer s.templatesMu.Unlock()
	if s.templates == nil {
		s.templates = map[string]*dbTemplate{}
	}
	t := s.templates[key]
	if t == nil {
		t = &dbTemplate{}
		s.templates[key] = t
	}
	return t
}

// buildTemplate makes a database, runs build on it and seals it as a
// template: no connections allowed, none left.
func (s *server) buildTemplate(key string, build func(context.Context, string) error) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	name := "pgtest_template_" + randomHex(8)
	if err := s.createDatabase(ctx, name, ""); err != nil {
		return "", err
	}
	err := build(ctx, s.urlFor(name, s.url.User))
	if err == nil {
		err = s.sealTemplate(ctx, name)
	}
	if err != nil {
		return "", errors.Join(fmt.Errorf("build: %w", err), s.dropDatabase(ctx, name))
	}
	return name, nil
}

// sealTemplate stops database name taking connections, on every node,
// and ends the sessions it still has (a Citus maintenance daemon, or one
// of build's that has not yet gone).
func (s *server) sealTemplate(ctx context.Context, name string) error {
	terminate := "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = " + quote(name) + " AND pid <> pg_backend_pid()"
	if s.citus == nil {
		// As the database's owner, which an external server's user is
		// (EnvURL): no superuser needed.
		for _, stmt := range []string{"ALTER DATABASE " + pgx.Identifier{name}.Sanitize() + " WITH ALLOW_CONNECTIONS false", terminate} {
			if _, err := s.admin.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("seal template %s: %w", name, err)
			}
		}
		return nil
	}
	// On each node by itself, as the superuser: an ALTER DATABASE on the
	// coordinator would be Citus's to carry, or not, to the workers.
	noConnections := "UPDATE pg_database SET datallowconn = false WHERE datname = " + quote(name)
	for _, n := range append([]node{s.citus.coordinator}, s.citus.workers...) {
		if err := s.citus.exec(ctx, n, "postgres", noConnections, terminate); err != nil {
			return fmt.Errorf("seal template %s: %w", name, err)
		}
	}
	return nil
}

// copyDatabase creates database name as a copy of template, on every
// node of a Citus cluster. Called with the Citus DDL lock held.
func (s *server) copyDatabase(ctx context.Context, name, template string) error {
	create := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	if s.citus == nil {
		err := retryInUse(ctx, func() error { _, err := s.admin.Exec(ctx, create); return err })
		if err != nil {
			return fmt.Errorf("copy database %s: %w", template, err)
		}
		return nil
	}
	err := retryInUse(ctx, func() error {
		return s.citus.exec(ctx, s.citus.coordinator, "postgres", "SET citus.enable_create_database_propagation = off", create)
	})
	for _, w := range s.citus.workers {
		if err != nil {
			break
		}
		err = retryInUse(ctx, func() error { return s.citus.exec(ctx, w, "postgres", create) })
	}
	if err == nil {
		_, err = s.admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s SET citus.shard_count = %d", pgx.Identifier{name}.Sanitize(), citusShardCount))
	}
	if err != nil {
		return errors.Join(fmt.Errorf("copy database %s: %w", template, err), s.dropDatabaseLocked(ctx, name))
	}
	return nil
}

// dropTemplates drops the server's templates (Main, at the end).
func (s *server) dropTemplates() error {
	s.templatesMu.Lock()
	defer s.templatesMu.Unlock()
	var names []string
	for _, t := range s.templates {
		if t.name != "" {
			names = append(names, t.name)
		}
	}
	sort.Strings(names)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var err error
	for _, name := range names {
		err = errors.Join(err, s.dropDatabase(ctx, name))
	}
	return err
}
