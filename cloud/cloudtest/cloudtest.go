// Package cloudtest starts real cloud servers for tests: a fresh database
// on the test PostgreSQL (internal/pgtest), migrated, and the real HTTP
// server on a loopback port.
package cloudtest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/cloud/postgres"
	"github.com/pantry/pantry/cloud/server"
	"github.com/pantry/pantry/internal/apitest"
	"github.com/pantry/pantry/internal/pgtest"
)

// Cheap makes password hashing fast in tests; one test in cloud/auth
// covers the real parameters.
var Cheap = auth.PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Password is every test user's password.
const Password = "correct horse battery"

// Server is a running cloud server on a fresh database.
type Server struct {
	*server.Server
	URL   string
	DBURL string
	stop  func() error // stops the server, once, and returns what Run did
}

// Stop stops the server as a signal would (Run's context ends) and
// returns what Run returned; the test's cleanup then has nothing to do.
func (s *Server) Stop() error { return s.stop() }

// Start migrates a new database and serves it until the test ends. With
// PANTRY_TEST_DB=citus the database is on a Citus cluster, distributed.
func Start(tb testing.TB, configure ...func(*server.Config)) *Server {
	tb.Helper()
	return StartOn(tb, MigratedDatabase(tb), configure...)
}

// MigratedDatabase returns a superuser URL to a new database at this
// binary's schema version, distributed on Citus (PANTRY_TEST_DB=citus):
// a copy of one migrated once per test binary (pgtest.NewDatabaseFrom).
func MigratedDatabase(tb testing.TB) string {
	tb.Helper()
	return pgtest.NewDatabaseFrom(tb, "migrated", func(ctx context.Context, url string) error {
		_, err := postgres.Migrate(ctx, url, postgres.MigrateOptions{Citus: pgtest.Citus()})
		return err
	})
}

// StartOn serves an already migrated database: a second instance next to
// one Start made.
func StartOn(tb testing.TB, dbURL string, configure ...func(*server.Config)) *Server {
	tb.Helper()
	ctx := context.Background()
	cfg := server.Config{DatabaseURL: dbURL, HTTPAddr: "127.0.0.1:0", Passwords: Cheap,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range configure {
		f(&cfg)
	}
	s, err := server.New(ctx, cfg)
	if err != nil {
		tb.Fatalf("start cloud: %v", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("cloud did not stop within 30 s")
		}
	})
	tb.Cleanup(func() {
		if err := stop(); err != nil {
			tb.Errorf("cloud stopped with: %v", err)
		}
	})
	return &Server{Server: s, URL: "http://" + s.Addr().String(), DBURL: dbURL, stop: stop}
}

// Org is an organization made for a test, with its owner logged in.
type Org struct {
	ID, OwnerID, OwnerEmail string
	Slug                    string // what people type to sign in with SSO
	Token                   string // the owner's access token
}

// NewOrg creates an organization whose owner's password is Password, and
// logs the owner in.
func (s *Server) NewOrg(tb testing.TB, name string) Org {
	tb.Helper()
	hash, err := Cheap.Hash(Password)
	if err != nil {
		tb.Fatal(err)
	}
	email := name + "-owner@example.com"
	org, err := s.Store().CreateOrganization(context.Background(), cloud.NewOrganization{Name: name, OwnerEmail: email, OwnerPasswordHash: hash})
	if err != nil {
		tb.Fatalf("create organization: %v", err)
	}
	return Org{ID: org.OrgID, OwnerID: org.OwnerUserID, OwnerEmail: email, Slug: org.Slug, Token: s.Login(tb, email, Password).AccessToken}
}

// Tokens is a login's answer.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
}

// Login logs a user in and fails the test if it does not work.
func (s *Server) Login(tb testing.TB, email, password string) Tokens {
	tb.Helper()
	r := s.Do(tb, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password})
	if r.Status != http.StatusOK {
		tb.Fatalf("login %s: %d %s", email, r.Status, r.Body)
	}
	var t Tokens
	r.Decode(tb, &t)
	return t
}

// Response is an HTTP response with its body read.
type Response = apitest.Response

// Do sends a request to the server; see apitest.Do.
func (s *Server) Do(tb testing.TB, method, path, token string, body any, headers ...string) Response {
	tb.Helper()
	return apitest.Do(tb, s.URL, method, path, token, body, headers...)
}
