package postgres

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// ssoOrg creates an organization for an SSO test and returns its id.
func ssoOrg(t *testing.T, s *Store, label string) string {
	t.Helper()
	created, err := s.CreateOrganization(t.Context(), cloud.NewOrganization{
		Name: label, OwnerEmail: "owner-" + pantry.NewSecret(4) + "@" + strings.ToLower(label) + ".test",
		OwnerName: "Owner", OwnerPasswordHash: "$argon2id$fake",
	})
	if err != nil {
		t.Fatalf("create organization: %v", err)
	}
	return created.OrgID
}

func strPtr(s string) *string { return &s }

// goodSSOInput is a configuration every rule accepts.
func goodSSOInput() cloud.SSOConfigInput {
	return cloud.SSOConfigInput{
		Issuer: "https://login.acme.test", ClientID: "pantry", ClientSecret: strPtr("s3cret"),
		AllowedDomains: []string{"Acme.test", "@acme.test", " corp.acme.test "}, RoleClaim: "groups",
		RoleMap: map[string]cloud.Role{"pantry-admins": cloud.RoleAdmin, "pantry-fm": cloud.RoleFacilityManager},
		Enabled: true,
	}
}

func TestSSOConfigRoundTrip(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, migratedDB(t, MigrateOptions{}), Options{})
	org := ssoOrg(t, s, "Acme")
	who := cloud.Actor{Type: "user", ID: pantry.NewID()}

	if _, err := s.GetSSOConfig(t.Context(), org); pantry.ErrorCode(err) != pantry.ENOTFOUND {
		t.Fatalf("get before put: %v, want ENOTFOUND", err)
	}
	got, err := s.PutSSOConfig(t.Context(), org, who, goodSSOInput())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"acme.test", "corp.acme.test"}; fmt.Sprint(got.AllowedDomains) != fmt.Sprint(want) {
		t.Errorf("domains %q, want %q (lower-cased, trimmed, deduplicated, sorted)", got.AllowedDomains, want)
	}
	if !got.ClientSecretSet || got.DefaultRole != "" || !got.Enabled || got.RoleMap["pantry-fm"] != cloud.RoleFacilityManager {
		t.Errorf("put returned %+v", got)
	}
	read, err := s.GetSSOConfig(t.Context(), org)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(read); strings.Contains(string(b), "s3cret") {
		t.Errorf("a read carries the client secret: %s", b)
	}

	// Without a secret the stored one stays.
	in := goodSSOInput()
	in.ClientSecret, in.DefaultRole, in.Enabled = nil, cloud.RoleViewer, false
	if _, err := s.PutSSOConfig(t.Context(), org, who, in); err != nil {
		t.Fatal(err)
	}
	p, err := s.SSOProvider(t.Context(), org)
	if err != nil {
		t.Fatal(err)
	}
	if p.ClientSecret != "s3cret" || p.OrgName != "Acme" || p.DefaultRole != cloud.RoleViewer || p.Enabled {
		t.Errorf("provider after update: secret %q, org %q, default %q, enabled %v", p.ClientSecret, p.OrgName, p.DefaultRole, p.Enabled)
	}

	entries, _, err := s.ListAudit(t.Context(), org, cloud.AuditFilter{Resource: "sso_config"}, cloud.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
		if b, _ := json.Marshal(e); strings.Contains(string(b), "s3cret") {
			t.Errorf("audit entry carries the client secret: %s", b)
		}
	}
	if got, want := strings.Join(actions, ","), "sso.update,sso.create"; got != want {
		t.Errorf("audit actions %s, want %s", got, want)
	}
}

// TestPutSSOConfigRefusesBadInput: each refusal is EINVALID and leaves
// the stored configuration and the audit log as they were.
func TestPutSSOConfigRefusesBadInput(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, migratedDB(t, MigrateOptions{}), Options{})
	org, fresh := ssoOrg(t, s, "Acme"), ssoOrg(t, s, "Fresh")
	who := cloud.Actor{Type: "user", ID: pantry.NewID()}
	if _, err := s.PutSSOConfig(t.Context(), org, who, goodSSOInput()); err != nil {
		t.Fatal(err)
	}
	before, _ := s.SSOProvider(t.Context(), org)
	many := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	bigMap := map[string]cloud.Role{}
	for i := range cloud.MaxSSORoleMapping + 1 {
		bigMap[fmt.Sprintf("g%d", i)] = cloud.RoleViewer
	}
	tests := []struct {
		name   string
		org    string
		change func(*cloud.SSOConfigInput)
		want   string // in the message
	}{
		{"EmptyIssuer", org, func(in *cloud.SSOConfigInput) { in.Issuer = "" }, "issuer URL is required"},
		{"RelativeIssuer", org, func(in *cloud.SSOConfigInput) { in.Issuer = "login.acme.test" }, "not an absolute URL"},
		{"HTTPIssuer", org, func(in *cloud.SSOConfigInput) { in.Issuer = "http://login.acme.test" }, "must be an https URL"},
		{"FTPIssuer", org, func(in *cloud.SSOConfigInput) { in.Issuer = "ftp://login.acme.test" }, "must be an https URL"},
		{"IssuerWithQuery", org, func(in *cloud.SSOConfigInput) { in.Issuer = "https://login.acme.test/?tenant=1" }, "query"},
		{"IssuerWithCredentials", org, func(in *cloud.SSOConfigInput) { in.Issuer = "https://u:p@login.acme.test" }, "credentials"},
		{"LongIssuer", org, func(in *cloud.SSOConfigInput) { in.Issuer = "https://acme.test/" + strings.Repeat("a", 2048) }, "longer than"},
		{"EmptyClientID", org, func(in *cloud.SSOConfigInput) { in.ClientID = "  " }, "client id is required"},
		{"ClientIDWithSpace", org, func(in *cloud.SSOConfigInput) { in.ClientID = "pan try" }, "printable ASCII"},
		{"EmptySecret", org, func(in *cloud.SSOConfigInput) { in.ClientSecret = strPtr("") }, "client secret must not be empty"},
		{"FirstConfigWithoutSecret", fresh, func(in *cloud.SSOConfigInput) { in.ClientSecret = nil }, "client secret is required"},
		{"NoDomains", org, func(in *cloud.SSOConfigInput) { in.AllowedDomains = nil }, "name at least one email domain"},
		{"BadDomain", org, func(in *cloud.SSOConfigInput) { in.AllowedDomains = []string{"acme"} }, "not a domain name"},
		{"DomainWithSpace", org, func(in *cloud.SSOConfigInput) { in.AllowedDomains = []string{"ac me.test"} }, "not a domain name"},
		{"TooManyDomains", org, func(in *cloud.SSOConfigInput) {
			in.AllowedDomains = many(cloud.MaxSSODomains+1, func(i int) string { return fmt.Sprintf("d%d.acme.test", i) })
		}, "at most 100"},
		{"MapsToUnknownRole", org, func(in *cloud.SSOConfigInput) { in.RoleMap = map[string]cloud.Role{"x": "superuser"} }, `maps to "superuser"`},
		{"MapsToOwner", org, func(in *cloud.SSOConfigInput) { in.RoleMap = map[string]cloud.Role{"x": cloud.RoleOwner} }, `maps to "owner"`},
		{"MapsToTechnician", org, func(in *cloud.SSOConfigInput) { in.RoleMap = map[string]cloud.Role{"x": cloud.RoleTechnician} }, `maps to "technician"`},
		{"DefaultOwner", org, func(in *cloud.SSOConfigInput) { in.DefaultRole = cloud.RoleOwner }, `default role "owner"`},
		{"TooManyMappings", org, func(in *cloud.SSOConfigInput) { in.RoleMap = bigMap }, "at most 200"},
		{"EmptyClaimValue", org, func(in *cloud.SSOConfigInput) { in.RoleMap = map[string]cloud.Role{"": cloud.RoleAdmin} }, "claim value"},
		{"MappingWithoutClaim", org, func(in *cloud.SSOConfigInput) { in.RoleClaim = "" }, "name the ID-token claim"},
		{"NobodyCouldSignIn", org, func(in *cloud.SSOConfigInput) { in.RoleMap, in.DefaultRole = nil, "" }, "nobody could sign in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := goodSSOInput()
			in.ClientSecret = strPtr("other-secret")
			tt.change(&in)
			_, err := s.PutSSOConfig(t.Context(), tt.org, who, in)
			if pantry.ErrorCode(err) != pantry.EINVALID || !strings.Contains(pantry.ErrorMessage(err), tt.want) {
				t.Fatalf("put: %v, want EINVALID saying %q", err, tt.want)
			}
		})
	}
	after, err := s.SSOProvider(t.Context(), org)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", after) != fmt.Sprintf("%+v", before) {
		t.Errorf("configuration changed by refused puts:\n%+v\nwant\n%+v", after, before)
	}
	if _, err := s.GetSSOConfig(t.Context(), fresh); pantry.ErrorCode(err) != pantry.ENOTFOUND {
		t.Errorf("fresh organization: %v, want still no configuration", err)
	}
	entries, _, _ := s.ListAudit(t.Context(), org, cloud.AuditFilter{Resource: "sso_config"}, cloud.Page{})
	if len(entries) != 1 {
		t.Errorf("%d audit entries, want the one of the accepted put", len(entries))
	}
}

// TestSSOIsolation: another organization can neither read a
// configuration nor spend a sign-in through the store.
func TestSSOIsolation(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, migratedDB(t, MigrateOptions{}), Options{})
	a, b := ssoOrg(t, s, "Acme"), ssoOrg(t, s, "Bravo")
	if _, err := s.PutSSOConfig(t.Context(), a, cloud.Actor{Type: "system"}, goodSSOInput()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSSOConfig(t.Context(), b); pantry.ErrorCode(err) != pantry.ENOTFOUND {
		t.Errorf("B reads a configuration: %v, want ENOTFOUND", err)
	}
	if _, err := s.SSOProvider(t.Context(), b); pantry.ErrorCode(err) != pantry.ENOTFOUND {
		t.Errorf("B gets a provider: %v, want ENOTFOUND", err)
	}
	// Even asking for A's row by name, B's transaction sees nothing.
	err := s.InTenant(t.Context(), b, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(t.Context(), `SELECT count(*) FROM sso_configs WHERE organization_id = $1`, a).Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			t.Errorf("B's transaction sees %d of A's configurations", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	state := a + ".state-of-a"
	hash := sha256.Sum256([]byte(state))
	now := time.Now()
	if err := s.BeginSSO(t.Context(), cloud.SSOState{OrgID: a, StateHash: hash[:], Verifier: strings.Repeat("v", 43),
		Nonce: strings.Repeat("n", 43), RedirectURL: "https://p.test/cb", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeSSOState(t.Context(), b, hash[:], now); err != errSSOStateUnknown {
		t.Errorf("B takes A's state: %v, want %v", err, errSSOStateUnknown)
	}
	if st, err := s.TakeSSOState(t.Context(), a, hash[:], now); err != nil || st.OrgID != a {
		t.Errorf("A takes its state after B tried: %+v, %v", st, err)
	}
}

func TestTakeSSOState(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, migratedDB(t, MigrateOptions{}), Options{})
	org := ssoOrg(t, s, "Acme")
	now := time.Now().Truncate(time.Microsecond)
	begin := func(t *testing.T, ttl time.Duration) []byte {
		t.Helper()
		h := sha256.Sum256([]byte(pantry.NewSecret(32)))
		err := s.BeginSSO(t.Context(), cloud.SSOState{OrgID: org, StateHash: h[:], Verifier: strings.Repeat("v", 43),
			Nonce: strings.Repeat("n", 43), RedirectURL: "https://p.test/cb", CreatedAt: now, ExpiresAt: now.Add(ttl)})
		if err != nil {
			t.Fatal(err)
		}
		return h[:]
	}
	t.Run("Once", func(t *testing.T) {
		h := begin(t, time.Minute)
		st, err := s.TakeSSOState(t.Context(), org, h, now)
		if err != nil || st.Verifier != strings.Repeat("v", 43) || st.RedirectURL != "https://p.test/cb" || !st.ExpiresAt.Equal(now.Add(time.Minute)) {
			t.Fatalf("take: %+v, %v", st, err)
		}
		if _, err := s.TakeSSOState(t.Context(), org, h, now); err != errSSOStateUsed {
			t.Fatalf("take again: %v, want %v", err, errSSOStateUsed)
		}
	})
	t.Run("Expired", func(t *testing.T) {
		h := begin(t, time.Minute)
		if _, err := s.TakeSSOState(t.Context(), org, h, now.Add(time.Minute)); err != errSSOStateExpired {
			t.Fatalf("take at expiry: %v, want %v", err, errSSOStateExpired)
		}
		if _, err := s.TakeSSOState(t.Context(), org, h, now); err != errSSOStateUsed {
			t.Fatalf("an expired state is spent: %v, want %v", err, errSSOStateUsed)
		}
	})
	t.Run("Unknown", func(t *testing.T) {
		for _, o := range []string{org, pantry.NewID(), "not-a-uuid"} {
			if _, err := s.TakeSSOState(t.Context(), o, make([]byte, 32), now); err != errSSOStateUnknown {
				t.Errorf("org %s: %v, want %v", o, err, errSSOStateUnknown)
			}
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		h := begin(t, time.Minute)
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for range 8 {
			wg.Go(func() {
				if _, err := s.TakeSSOState(t.Context(), org, h, now); err == nil {
					mu.Lock()
					won++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("%d of 8 concurrent takes succeeded, want 1", won)
		}
	})
	t.Run("BadState", func(t *testing.T) {
		err := s.BeginSSO(t.Context(), cloud.SSOState{OrgID: org, StateHash: []byte("short"), CreatedAt: now, ExpiresAt: now.Add(time.Minute)})
		if pantry.ErrorCode(err) != pantry.EINVALID {
			t.Fatalf("begin with a short hash: %v, want EINVALID", err)
		}
	})
}

func TestFindOrCreateSSOUser(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, migratedDB(t, MigrateOptions{}), Options{})
	org, other := ssoOrg(t, s, "Acme"), ssoOrg(t, s, "Other")
	in := cloud.SSOUserInput{Email: "Ann@Acme.test", Name: "Ann", Role: cloud.RoleViewer, Issuer: "https://idp.test", Subject: "ann"}

	first, err := s.FindOrCreateSSOUser(t.Context(), org, in)
	if err != nil || !first.Created || first.User.Email != "ann@acme.test" || first.User.Role != cloud.RoleViewer {
		t.Fatalf("first: %+v, %v", first, err)
	}
	if login, err := s.LookupLogin(t.Context(), "ann@acme.test"); err != nil || login.PasswordHash != ssoNoPassword {
		t.Fatalf("login lookup: %+v, %v", login, err)
	}
	// A default role does not change an existing user; a mapped role does.
	in.Role = cloud.RoleAdmin
	if again, err := s.FindOrCreateSSOUser(t.Context(), org, in); err != nil || again.Created || again.User.Role != cloud.RoleViewer || again.User.ID != first.User.ID {
		t.Fatalf("again, unmapped: %+v, %v", again, err)
	}
	in.Mapped = true
	again, err := s.FindOrCreateSSOUser(t.Context(), org, in)
	if err != nil || !again.RoleChanged || again.User.Role != cloud.RoleAdmin {
		t.Fatalf("again, mapped: %+v, %v", again, err)
	}
	entries, _, _ := s.ListAudit(t.Context(), org, cloud.AuditFilter{Resource: "user", ResourceID: first.User.ID}, cloud.Page{})
	if len(entries) != 2 || entries[0].Action != "user.update" || entries[0].ActorID != "sso" || entries[1].Action != "user.create" {
		t.Fatalf("audit: %+v, want an SSO create then an SSO update", entries)
	}

	t.Run("OwnerStaysOwner", func(t *testing.T) {
		owner, _, _ := s.ListUsers(t.Context(), org, cloud.Page{})
		var email string
		for _, u := range owner {
			if u.Role == cloud.RoleOwner {
				email = u.Email
			}
		}
		got, err := s.FindOrCreateSSOUser(t.Context(), org, cloud.SSOUserInput{Email: email, Role: cloud.RoleViewer, Mapped: true})
		if err != nil || got.User.Role != cloud.RoleOwner || got.RoleChanged {
			t.Fatalf("owner: %+v, %v", got, err)
		}
	})
	t.Run("AnotherOrganizationsEmail", func(t *testing.T) {
		_, err := s.FindOrCreateSSOUser(t.Context(), other, cloud.SSOUserInput{Email: "ann@acme.test", Role: cloud.RoleViewer})
		if pantry.ErrorCode(err) != pantry.EFORBIDDEN {
			t.Fatalf("other org: %v, want EFORBIDDEN", err)
		}
	})
	t.Run("Disabled", func(t *testing.T) {
		yes := true
		if _, err := s.UpdateUser(t.Context(), org, cloud.Actor{Type: "system"}, first.User.ID, cloud.UserUpdate{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		_, err := s.FindOrCreateSSOUser(t.Context(), org, in)
		if pantry.ErrorCode(err) != pantry.EUNAUTHORIZED {
			t.Fatalf("disabled: %v, want EUNAUTHORIZED", err)
		}
	})
	t.Run("ConcurrentFirstSignIns", func(t *testing.T) {
		in := cloud.SSOUserInput{Email: "bo@acme.test", Role: cloud.RoleViewer}
		var wg sync.WaitGroup
		ids := make(chan string, 4)
		for range 4 {
			wg.Go(func() {
				u, err := s.FindOrCreateSSOUser(t.Context(), org, in)
				if err != nil {
					t.Errorf("sign-in: %v", err)
					return
				}
				ids <- u.User.ID
			})
		}
		wg.Wait()
		close(ids)
		seen := map[string]bool{}
		for id := range ids {
			seen[id] = true
		}
		if len(seen) != 1 {
			t.Fatalf("concurrent first sign-ins made %d users, want 1", len(seen))
		}
	})
	t.Run("RefusesOwnerRole", func(t *testing.T) {
		_, err := s.FindOrCreateSSOUser(t.Context(), org, cloud.SSOUserInput{Email: "cy@acme.test", Role: cloud.RoleOwner})
		if pantry.ErrorCode(err) != pantry.EINVALID {
			t.Fatalf("owner role: %v, want EINVALID", err)
		}
	})
}
