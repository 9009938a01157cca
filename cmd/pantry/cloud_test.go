package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud/postgres"
	"github.com/pantry/pantry/internal/pgtest"
)

// runPantry runs the command line in-process and returns its stdout.
func runPantry(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string { return env[k] }
	err := run(context.Background(), append([]string{"pantry"}, args...), getenv, &stdout, &stderr)
	return stdout.String(), err
}

// TestCloudMigrate migrates a new database, then again. With
// PANTRY_TEST_DB=citus the first run has --citus (PANTRY_CITUS, the
// flag's variable) and distributes the tables, and the second, without
// it, finds them distributed.
func TestCloudMigrate(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	env := map[string]string{"PANTRY_DATABASE_URL": url}
	if pgtest.Citus() {
		env["PANTRY_CITUS"] = "true"
	}
	out, err := runPantry(t, env, "cloud", "migrate", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res postgres.MigrateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if res.To != postgres.SchemaVersion() || len(res.Applied) != postgres.SchemaVersion() || res.ServiceRole != postgres.DefaultServiceRole {
		t.Fatalf("result %+v, want every migration applied", res)
	}
	if res.Citus != pgtest.Citus() || (res.Citus && len(res.Placed) == 0) {
		t.Fatalf("result %+v: distributed %v, placed %d tables; want distributed %v", res, res.Citus, len(res.Placed), pgtest.Citus())
	}
	out, err = runPantry(t, nil, "cloud", "migrate", "--database-url", url)
	if err != nil {
		t.Fatal(err)
	}
	if want := "already up to date"; !strings.Contains(out, want) {
		t.Fatalf("second run printed %q, want %q", out, want)
	}
	if want := "distributed over Citus (every table already placed)"; strings.Contains(out, want) != pgtest.Citus() {
		t.Fatalf("second run printed %q; saying %q should be %v", out, want, pgtest.Citus())
	}
}

func TestCloudMigrateRefusesClearly(t *testing.T) {
	t.Parallel()
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"NoURL", []string{"cloud", "migrate"}, "--database-url (or PANTRY_DATABASE_URL) is required"},
		{"EmptyPasswordFile", []string{"cloud", "migrate", "--database-url", "postgres://x@127.0.0.1:1/x", "--service-password-file", empty}, "is empty"},
		{"BadRole", []string{"cloud", "migrate", "--database-url", "postgres://x@127.0.0.1:1/x", "--service-role", "Robert'); DROP"}, "service role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runPantry(t, nil, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}
