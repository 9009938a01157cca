package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pantry/pantry/cloud/postgres"
)

func newCloudCmd(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "cloud", Short: "Run and administer the multi-tenant cloud service"}
	cmd.AddCommand(newCloudMigrateCmd(getenv, stdout), newCloudServeCmd(getenv, stderr),
		newCloudOrgCmd(getenv, stdout), newCloudUserCmd(getenv, stdout), newCloudAPIKeyCmd(getenv, stdout), newCloudKeysCmd(getenv, stdout), newCloudSiteCmd(getenv, stdout),
		newCloudLoadtestCmd(getenv, stdout, stderr))
	return cmd
}

// databaseURL binds --database-url, which every `pantry cloud` command takes.
func databaseURL(e *env, p *string) {
	e.String(p, "database-url", "PANTRY_DATABASE_URL", "", "PostgreSQL URL, e.g. postgres://user:pass@host/pantry")
}

func newCloudMigrateCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	var url, passwordFile string
	var opts postgres.MigrateOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database to this binary's schema and create the service role",
		Long: `Applies the schema migrations embedded in this binary, each in its own
transaction, and creates the role the service runs as if it is missing.
Safe to run again, and from several places at once.

Run it as the role that should own the tables (a superuser, or the
database's owner with CREATEROLE). The service role it creates cannot log in
unless --service-password-file gives it a password; without one, run
` + "`pantry cloud serve`" + ` with this same URL and it switches to the service role.

With --citus, on the coordinator of a Citus cluster whose database has the
citus extension on every node, it then distributes the tables: tenant tables
by organization_id, co-located, and the global ones as reference or local
tables (deploy/scale-out.md). A database once distributed stays so: later
runs distribute new tables with or without the flag. On Citus the service
role may log in (Citus connects to the workers as it), without a password
unless one is given.`,
		Args: cobra.NoArgs,
	}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	databaseURL(e, &url)
	e.String(&opts.ServiceRole, "service-role", "PANTRY_SERVICE_ROLE", postgres.DefaultServiceRole, "role the service runs as")
	e.String(&passwordFile, "service-password-file", "PANTRY_SERVICE_PASSWORD_FILE", "", "file holding a password for the service role, to let it log in itself")
	e.Bool(&opts.Citus, "citus", "PANTRY_CITUS", false, "distribute the tables over a Citus cluster (the database needs the citus extension)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		if url == "" {
			return errors.New("--database-url (or PANTRY_DATABASE_URL) is required")
		}
		if passwordFile != "" {
			pw, err := readSecretFile(passwordFile)
			if err != nil {
				return err
			}
			opts.ServicePassword = pw
		}
		res, err := postgres.Migrate(cmd.Context(), url, opts)
		if err != nil {
			return err
		}
		if asJSON {
			return json.NewEncoder(stdout).Encode(res)
		}
		return printMigrate(stdout, res)
	}
	return cmd
}

func printMigrate(w io.Writer, res postgres.MigrateResult) error {
	applied := "already up to date"
	if len(res.Applied) > 0 {
		applied = "applied " + strings.Join(res.Applied, ", ")
	}
	role := "exists"
	if res.CreatedRole {
		role = "created"
	}
	_, err := fmt.Fprintf(w, "schema at version %d (%s); service role %s %s\n", res.To, applied, res.ServiceRole, role)
	if err == nil && res.Citus {
		placed := "every table already placed"
		if len(res.Placed) > 0 {
			placed = "placed " + strings.Join(res.Placed, ", ")
		}
		_, err = fmt.Fprintf(w, "distributed over Citus (%s)\n", placed)
	}
	return err
}

// readSecretFile reads a one-line secret, without its line ending.
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return s, nil
}
