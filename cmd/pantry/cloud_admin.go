package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/cloud/postgres"
	"github.com/pantry/pantry/cloud/server"
	"github.com/pantry/pantry/cloud/syncserver"
	"github.com/pantry/pantry/internal/pantry"
)

func newCloudServeCmd(getenv func(string) string, stderr io.Writer) *cobra.Command {
	var cfg server.Config
	var jsonLogs bool
	cmd := &cobra.Command{Use: "serve", Short: "Serve the admin API (run as many instances as needed)", Args: cobra.NoArgs}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	databaseURL(e, &cfg.DatabaseURL)
	e.String(&cfg.HTTPAddr, "http", "PANTRY_HTTP_ADDR", ":8081", "HTTP listen address")
	e.String(&cfg.ServiceRole, "service-role", "PANTRY_SERVICE_ROLE", postgres.DefaultServiceRole, "role the service runs as")
	e.String(&cfg.QRBaseURL, "qr-base-url", "PANTRY_QR_BASE_URL", "http://pantry.local:8080", "where phones in a building reach its edge node (rooms' qr_url)")
	e.Duration(&cfg.NodeOfflineAfter, "node-offline-after", "PANTRY_NODE_OFFLINE_AFTER", cloud.OfflineAfter,
		"how long an edge node may go unheard before the dashboard shows it offline (at least 30s: nodes long-poll for up to 30 s)")
	e.Bool(&cfg.SSO.AllowPrivateNetworks, "sso-allow-private-networks", "PANTRY_SSO_ALLOW_PRIVATE_NETWORKS", false,
		"let single sign-on reach identity providers on private, loopback and link-local addresses: for a cloud whose provider is on its own network (off, an organization's admin cannot make the cloud fetch from its network)")
	e.Bool(&jsonLogs, "log-json", "PANTRY_LOG_JSON", false, "log as JSON")
	var maxConns int
	e.Int(&maxConns, "db-max-conns", "PANTRY_DB_MAX_CONNS", 16,
		"database connections this instance may hold, beside its listener's (edge nodes' pushes and woken long polls wait for one)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		if maxConns < 1 || maxConns > 1000 {
			return fmt.Errorf("--db-max-conns %d: want 1 to 1000 (and fewer than PostgreSQL's max_connections over all instances)", maxConns)
		}
		cfg.DBMaxConns = int32(maxConns)
		if cfg.DatabaseURL == "" {
			return errors.New("--database-url (or PANTRY_DATABASE_URL) is required")
		}
		if cfg.NodeOfflineAfter < cloud.MinOfflineAfter {
			return fmt.Errorf("--node-offline-after %s is too short: an edge node on line is heard from only every 30 s at worst (its long poll), so it would show offline; use %s or more",
				cfg.NodeOfflineAfter, cloud.MinOfflineAfter)
		}
		cfg.Log = newLogger(stderr, jsonLogs)
		s, err := server.New(cmd.Context(), cfg)
		if err != nil {
			return err
		}
		return s.Run(cmd.Context())
	}
	return cmd
}

// openStore opens the database for a one-off admin command.
// storeFlags binds what every command that opens the store takes: the
// database URL and the role the service acts as.
func storeFlags(e *env, url, role *string) {
	databaseURL(e, url)
	e.String(role, "service-role", "PANTRY_SERVICE_ROLE", postgres.DefaultServiceRole, "role the service runs as")
}

func openStore(cmd *cobra.Command, url, role string) (*postgres.Store, error) {
	if url == "" {
		return nil, errors.New("--database-url (or PANTRY_DATABASE_URL) is required")
	}
	return postgres.Open(cmd.Context(), url, postgres.Options{ServiceRole: role, MaxConns: 2})
}

// passwordOrNew reads a password from file, or makes one to print once,
// and hashes it for the store.
func passwordOrNew(file string) (pw, hash string, generated bool, err error) {
	pw, generated = pantry.NewSecret(15), true
	if file != "" {
		if pw, err = readSecretFile(file); err != nil {
			return "", "", false, err
		}
		if err := auth.ValidatePassword(pw); err != nil {
			return "", "", false, err
		}
		generated = false
	}
	hash, err = auth.HashPassword(pw)
	if err != nil {
		return "", "", false, err
	}
	return pw, hash, generated, nil
}

func newCloudOrgCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "org", Short: "Manage organizations (tenants)"}
	var url, role, name, slug, email, passwordFile string
	var asJSON bool
	create := &cobra.Command{Use: "create", Short: "Create an organization and its owner; prints the owner's password once", Args: cobra.NoArgs}
	e := &env{getenv: getenv, flags: create.Flags()}
	storeFlags(e, &url, &role)
	create.Flags().StringVar(&name, "name", "", "organization name")
	create.Flags().StringVar(&slug, "slug", "", "short name people type to sign in with single sign-on (default: from the name, e.g. acme)")
	create.Flags().StringVar(&email, "admin-email", "", "the owner's email")
	create.Flags().StringVar(&passwordFile, "admin-password-file", "", "file holding the owner's password (default: generate one)")
	create.Flags().BoolVar(&asJSON, "json", false, `print {"org_id","slug","admin_user_id"}`)
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("admin-email")
	create.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		pw, hash, generated, err := passwordOrNew(passwordFile)
		if err != nil {
			return err
		}
		s, err := openStore(cmd, url, role)
		if err != nil {
			return err
		}
		defer s.Close()
		org, err := s.CreateOrganization(cmd.Context(), cloud.NewOrganization{Name: name, Slug: slug, OwnerEmail: email, OwnerPasswordHash: hash})
		if err != nil {
			return err
		}
		out := map[string]string{"org_id": org.OrgID, "slug": org.Slug, "admin_user_id": org.OwnerUserID}
		if generated {
			out["admin_password"] = pw
		}
		if asJSON {
			return json.NewEncoder(stdout).Encode(out)
		}
		fmt.Fprintf(stdout, "Organization %s created (id %s, slug %s); owner %s (id %s).\n", name, org.OrgID, org.Slug, email, org.OwnerUserID)
		if generated {
			fmt.Fprintf(stdout, "Owner's password (shown once): %s\n", pw)
		}
		return nil
	}
	cmd.AddCommand(create)
	return cmd
}

func newCloudUserCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users"}
	var url, role, orgID, email, name, userRole, passwordFile string
	var asJSON bool
	create := &cobra.Command{Use: "create", Short: "Add a user to an organization; prints a generated password once", Args: cobra.NoArgs}
	e := &env{getenv: getenv, flags: create.Flags()}
	storeFlags(e, &url, &role)
	create.Flags().StringVar(&orgID, "org", "", "organization id")
	create.Flags().StringVar(&email, "email", "", "the user's email")
	create.Flags().StringVar(&name, "name", "", "the user's name")
	create.Flags().StringVar(&userRole, "role", "admin", "owner, admin, facility_manager or viewer")
	create.Flags().StringVar(&passwordFile, "password-file", "", "file holding the password (default: generate one)")
	create.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = create.MarkFlagRequired("org")
	_ = create.MarkFlagRequired("email")
	create.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		r, err := cloud.ParseUserRole(userRole)
		if err != nil {
			return err
		}
		pw, hash, generated, err := passwordOrNew(passwordFile)
		if err != nil {
			return err
		}
		s, err := openStore(cmd, url, role)
		if err != nil {
			return err
		}
		defer s.Close()
		u, err := s.CreateUser(cmd.Context(), orgID, cloud.Actor{Type: "system"}, cloud.UserInput{Email: email, Name: name, Role: r, PasswordHash: hash})
		if err != nil {
			return err
		}
		out := map[string]string{"user_id": u.ID, "email": u.Email, "role": string(u.Role)}
		if generated {
			out["password"] = pw
		}
		if asJSON {
			return json.NewEncoder(stdout).Encode(out)
		}
		fmt.Fprintf(stdout, "User %s (%s) created, id %s.\n", u.Email, u.Role, u.ID)
		if generated {
			fmt.Fprintf(stdout, "Password (shown once): %s\n", pw)
		}
		return nil
	}
	cmd.AddCommand(create)
	return cmd
}

func newCloudAPIKeyCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "Manage technicians' API keys"}
	var url, role, orgID, name string
	var asJSON bool
	create := &cobra.Command{Use: "create", Short: "Create a technician's API key; prints it once", Args: cobra.NoArgs}
	e := &env{getenv: getenv, flags: create.Flags()}
	storeFlags(e, &url, &role)
	create.Flags().StringVar(&orgID, "org", "", "organization id")
	create.Flags().StringVar(&name, "name", "", "a name, e.g. the technician's")
	create.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = create.MarkFlagRequired("org")
	_ = create.MarkFlagRequired("name")
	create.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		s, err := openStore(cmd, url, role)
		if err != nil {
			return err
		}
		defer s.Close()
		key, prefix, hash := auth.NewAPIKey()
		k, err := s.CreateAPIKey(cmd.Context(), orgID, cloud.Actor{Type: "system"}, name, prefix, hash)
		if err != nil {
			return err
		}
		if asJSON {
			return json.NewEncoder(stdout).Encode(map[string]string{"id": k.ID, "name": k.Name, "key": key})
		}
		fmt.Fprintf(stdout, "API key %q created (id %s). Key (shown once): %s\n", k.Name, k.ID, key)
		return nil
	}
	cmd.AddCommand(create)
	return cmd
}

func newCloudKeysCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage the access-token signing keys every instance shares"}
	var url, role string
	var asJSON bool
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Add a new signing key and retire keys no valid token can still need",
		Long: `Adds a signing key. Every instance picks it up within a minute and starts
signing with it two reload intervals after it was added, so no instance meets
a token signed with a key it does not know. Keys superseded long enough ago
that every token they signed has expired are retired. Run it on a schedule
(e.g. monthly), or now if a key may have leaked (then run it again after 20
minutes to retire the old key).`,
		Args: cobra.NoArgs,
	}
	e := &env{getenv: getenv, flags: rotate.Flags()}
	storeFlags(e, &url, &role)
	rotate.Flags().BoolVar(&asJSON, "json", false, `print {"added":true,"retired":N}`)
	rotate.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		s, err := openStore(cmd, url, role)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := server.AddSigningKey(cmd.Context(), s); err != nil {
			return err
		}
		// A superseded key keeps signing until every instance switched
		// (two reload intervals), then its tokens live AccessTokenTTL.
		n, err := s.RetireSigningKeys(cmd.Context(), time.Now(), auth.KeyRetention+5*time.Minute)
		if err != nil {
			return err
		}
		if asJSON {
			return json.NewEncoder(stdout).Encode(map[string]any{"added": true, "retired": n})
		}
		fmt.Fprintf(stdout, "Added a signing key; retired %d old key(s).\n", n)
		return nil
	}
	cmd.AddCommand(rotate)
	return cmd
}

func newCloudSiteCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "site", Short: "Look after sites (buildings)"}
	var url, role, orgID, siteID string
	var ttl time.Duration
	var asJSON bool
	enroll := &cobra.Command{
		Use:   "enroll-token",
		Short: "Create a one-time token to enroll a site's edge node (pantry edge init --token)",
		Args:  cobra.NoArgs,
	}
	e := &env{getenv: getenv, flags: enroll.Flags()}
	storeFlags(e, &url, &role)
	enroll.Flags().StringVar(&siteID, "site", "", "site id")
	enroll.Flags().StringVar(&orgID, "org", "", "organization id (default: the site's)")
	enroll.Flags().DurationVar(&ttl, "ttl", cloud.DefaultEnrollmentTTL, "how long the token stays valid")
	enroll.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = enroll.MarkFlagRequired("site")
	enroll.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		s, err := openStore(cmd, url, role)
		if err != nil {
			return err
		}
		defer s.Close()
		ctx := cmd.Context()
		if orgID == "" {
			if orgID, err = s.SiteOrganization(ctx, siteID); err != nil {
				return err
			}
		}
		t, err := syncserver.New(s, syncserver.Options{}).CreateEnrollmentToken(ctx, orgID, cloud.Actor{Type: "system"}, siteID, ttl)
		if err != nil {
			return err
		}
		if asJSON {
			return json.NewEncoder(stdout).Encode(t)
		}
		fmt.Fprintf(stdout, "Enrollment token for site %s (single use, valid until %s):\n%s\n", t.SiteID, t.ExpiresAt.UTC().Format(time.RFC3339), t.Token)
		fmt.Fprintf(stdout, "On the building's edge node: pantry edge init --data DIR --cloud URL --token %s\n", t.Token)
		return nil
	}
	cmd.AddCommand(enroll)
	return cmd
}
