package sso_test

import (
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/cloud/postgres"
	"github.com/pantry/pantry/cloud/sso"
	"github.com/pantry/pantry/cloud/sso/ssotest"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/internal/pgtest"
)

// TestMain stops the test PostgreSQL that pgtest starts on first use.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// redirectURL is the dashboard's callback as registered at the provider.
// Nothing listens there: Provider.Login stops at the redirect to it, and
// the test hands its query to Finish as the dashboard's handler would.
const redirectURL = "https://dashboard.pantry.test/login/sso/callback"

// The provider's people.
var idpUsers = []ssotest.User{
	{Email: "ann@acme.test", Name: "Ann Admin", Groups: []string{"pantry-admins", "everyone"}},
	{Email: "Fay@ACME.test", Name: "Fay", Groups: []string{"pantry-fm", "pantry-admins"}},
	{Email: "fred@acme.test", Name: "Fred", Groups: []string{"pantry-fm"}},
	{Email: "vic@acme.test", Name: "Vic", Groups: []string{"everyone"}},
	{Email: "nog@acme.test", Name: "Nog"},
	{Email: "ulf@acme.test", Name: "Ulf", Unverified: true},
	{Email: "eve@evil.test", Name: "Eve", Groups: []string{"pantry-admins"}},
	{Email: "sam@shared.test", Name: "Sam", Groups: []string{"pantry-admins"}},
	{Email: "pat@acme.test", Name: "Pat", Claims: map[string]any{"pantry_role": "boss"}},
}

// clock is the flow's clock: real time plus an offset a test moves.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) set(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = d
}

type fixture struct {
	store *postgres.Store
	idp   *ssotest.Provider
	flow  *sso.Flow
	clock *clock
}

// newFixture migrates a new database, opens the store as the service
// role, and starts a provider on a loopback port.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	store, err := postgres.Open(ctx, cloudtest.MigratedDatabase(t), postgres.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(store.Close)
	f := &fixture{store: store, clock: &clock{}}
	f.idp = ssotest.Start(t, ssotest.Config{RedirectURIs: []string{redirectURL}, Users: idpUsers})
	f.flow = sso.New(store, sso.Options{AllowPrivateNetworks: true, Now: f.clock.Now})
	return f
}

// org creates an organization whose SSO uses the test provider, mapping
// the groups claim, with config changed by change.
func (f *fixture) org(t *testing.T, name string, change func(*cloud.SSOConfigInput)) string {
	t.Helper()
	created, err := f.store.CreateOrganization(t.Context(), cloud.NewOrganization{Name: name,
		OwnerEmail: "owner@" + strings.ToLower(name) + ".example", OwnerName: "Owner", OwnerPasswordHash: "$argon2id$fake"})
	if err != nil {
		t.Fatal(err)
	}
	secret := f.idp.ClientSecret
	in := cloud.SSOConfigInput{Issuer: f.idp.Issuer, ClientID: f.idp.ClientID, ClientSecret: &secret,
		AllowedDomains: []string{"ACME.test"}, RoleClaim: "groups",
		RoleMap: map[string]cloud.Role{"pantry-admins": cloud.RoleAdmin, "pantry-fm": cloud.RoleFacilityManager},
		Enabled: true}
	if change != nil {
		change(&in)
	}
	if _, err := f.store.PutSSOConfig(t.Context(), created.OrgID, cloud.Actor{Type: "system"}, in); err != nil {
		t.Fatal(err)
	}
	return created.OrgID
}

// login starts a sign-in to org, signs email in at the provider, and
// returns the callback as the dashboard would receive it.
func (f *fixture) login(t *testing.T, org, email string) sso.Callback {
	t.Helper()
	started, err := f.flow.Start(t.Context(), org, redirectURL)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if !strings.HasPrefix(started.AuthURL, f.idp.Issuer+"/authorize?") || !strings.Contains(started.AuthURL, "code_challenge_method=S256") {
		t.Fatalf("auth URL %s: want the provider's authorization endpoint with PKCE S256", started.AuthURL)
	}
	back, err := f.idp.Login(t.Context(), started.AuthURL, email)
	if err != nil {
		t.Fatalf("login at the provider: %v", err)
	}
	return callbackOf(t, back, started.State)
}

func callbackOf(t *testing.T, back *url.URL, browserState string) sso.Callback {
	t.Helper()
	if !strings.HasPrefix(back.String(), redirectURL+"?") {
		t.Fatalf("provider redirected to %s, want the callback", back)
	}
	q := back.Query()
	return sso.Callback{State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"),
		ErrorDescription: q.Get("error_description"), BrowserState: browserState}
}

// users returns the organization's users by email.
func (f *fixture) users(t *testing.T, org string) map[string]cloud.User {
	t.Helper()
	list, _, err := f.store.ListUsers(t.Context(), org, cloud.Page{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]cloud.User{}
	for _, u := range list {
		out[u.Email] = u
	}
	return out
}

// refused checks that err is a domain error with code whose message says
// want.
func refused(t *testing.T, err error, code, want string) {
	t.Helper()
	if pantry.ErrorCode(err) != code || !strings.Contains(pantry.ErrorMessage(err), want) {
		t.Fatalf("got %v, want %s saying %q", err, code, want)
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	acme := f.org(t, "Acme", nil)

	t.Run("FirstSignInCreatesTheUserWithTheMappedRole", func(t *testing.T) {
		res, err := f.flow.Finish(t.Context(), f.login(t, acme, "ann@acme.test"))
		if err != nil {
			t.Fatal(err)
		}
		if !res.Created || res.OrgID != acme || res.Email != "ann@acme.test" || res.Role != cloud.RoleAdmin || res.Name != "Ann Admin" {
			t.Fatalf("result %+v, want ann created as admin of Acme", res)
		}
		u := f.users(t, acme)["ann@acme.test"]
		if u.ID != res.UserID || u.Role != cloud.RoleAdmin {
			t.Fatalf("stored user %+v", u)
		}
		entries, _, err := f.store.ListAudit(t.Context(), acme, cloud.AuditFilter{Resource: "user", ResourceID: res.UserID}, cloud.Page{})
		if err != nil || len(entries) != 1 || entries[0].Action != "user.create" || entries[0].ActorID != "sso" {
			t.Fatalf("audit %+v, %v: want one user.create by sso", entries, err)
		}
	})
	t.Run("ByTheOrganizationsSlugInAnyCase", func(t *testing.T) {
		res, err := f.flow.Finish(t.Context(), f.login(t, " ACME ", "ann@acme.test"))
		if err != nil || res.OrgID != acme || res.Email != "ann@acme.test" || res.Created {
			t.Fatalf("%+v %v, want ann signed in to Acme (slug acme)", res, err)
		}
	})
	t.Run("SecondSignInFindsTheUser", func(t *testing.T) {
		before := f.users(t, acme)["ann@acme.test"]
		res, err := f.flow.Finish(t.Context(), f.login(t, acme, "ann@acme.test"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Created || res.RoleChanged || res.UserID != before.ID {
			t.Fatalf("result %+v, want the same user found", res)
		}
	})
	t.Run("MostPrivilegedMappingWinsAndEmailCaseIgnored", func(t *testing.T) {
		res, err := f.flow.Finish(t.Context(), f.login(t, acme, "fay@acme.test"))
		if err != nil || res.Role != cloud.RoleAdmin || res.Email != "fay@acme.test" {
			t.Fatalf("fay: %+v, %v; want admin (pantry-admins beats pantry-fm)", res, err)
		}
	})
	t.Run("RoleFollowsTheMappingAtTheNextSignIn", func(t *testing.T) {
		first, err := f.flow.Finish(t.Context(), f.login(t, acme, "fred@acme.test"))
		if err != nil || first.Role != cloud.RoleFacilityManager {
			t.Fatalf("fred: %+v, %v", first, err)
		}
		f.idp.AddUser(ssotest.User{Email: "fred@acme.test", Name: "Fred", Groups: []string{"pantry-admins"}})
		second, err := f.flow.Finish(t.Context(), f.login(t, acme, "fred@acme.test"))
		if err != nil || !second.RoleChanged || second.Role != cloud.RoleAdmin || second.UserID != first.UserID {
			t.Fatalf("fred promoted: %+v, %v", second, err)
		}
		entries, _, _ := f.store.ListAudit(t.Context(), acme, cloud.AuditFilter{Resource: "user", ResourceID: first.UserID}, cloud.Page{})
		if len(entries) != 2 || entries[0].Action != "user.update" {
			t.Fatalf("audit %+v, want the role change audited", entries)
		}
	})
	t.Run("NoMappingAndNoDefaultIsRefused", func(t *testing.T) {
		_, err := f.flow.Finish(t.Context(), f.login(t, acme, "vic@acme.test"))
		refused(t, err, pantry.EFORBIDDEN, "has no groups value that gives a role in Acme")
		if _, ok := f.users(t, acme)["vic@acme.test"]; ok {
			t.Fatal("vic was created")
		}
	})
	t.Run("DomainNotAllowedIsRefusedAndNothingCreated", func(t *testing.T) {
		before := len(f.users(t, acme))
		_, err := f.flow.Finish(t.Context(), f.login(t, acme, "eve@evil.test"))
		refused(t, err, pantry.EFORBIDDEN, "your email domain evil.test is not allowed for Acme: sign in with an address at acme.test")
		if after := len(f.users(t, acme)); after != before {
			t.Fatalf("%d users, want %d", after, before)
		}
		if _, err := f.store.LookupLogin(t.Context(), "eve@evil.test"); pantry.ErrorCode(err) != pantry.ENOTFOUND {
			t.Fatalf("eve has a login: %v", err)
		}
	})
	t.Run("UnverifiedEmailIsRefused", func(t *testing.T) {
		_, err := f.flow.Finish(t.Context(), f.login(t, acme, "ulf@acme.test"))
		refused(t, err, pantry.EFORBIDDEN, "ulf@acme.test is not verified")
	})
	t.Run("ReplayedStateIsRefused", func(t *testing.T) {
		cb := f.login(t, acme, "ann@acme.test")
		if _, err := f.flow.Finish(t.Context(), cb); err != nil {
			t.Fatal(err)
		}
		_, err := f.flow.Finish(t.Context(), cb)
		refused(t, err, pantry.EUNAUTHORIZED, "already used")
	})
	t.Run("ExpiredStateIsRefused", func(t *testing.T) {
		cb := f.login(t, acme, "ann@acme.test")
		f.clock.set(sso.DefaultStateTTL + time.Second)
		defer f.clock.set(0)
		_, err := f.flow.Finish(t.Context(), cb)
		refused(t, err, pantry.EUNAUTHORIZED, "took too long")
	})
	t.Run("StateFromAnotherBrowserIsRefused", func(t *testing.T) {
		cb := f.login(t, acme, "ann@acme.test")
		stolen := cb
		stolen.BrowserState = ""
		_, err := f.flow.Finish(t.Context(), stolen)
		refused(t, err, pantry.EUNAUTHORIZED, "started in another browser")
		// Refused before the state was taken: its own browser still can.
		if _, err := f.flow.Finish(t.Context(), cb); err != nil {
			t.Fatalf("own browser after a refused attempt: %v", err)
		}
	})
	t.Run("ProviderErrorIsRefusedAndSpendsTheState", func(t *testing.T) {
		started, err := f.flow.Start(t.Context(), acme, redirectURL)
		if err != nil {
			t.Fatal(err)
		}
		cb := sso.Callback{State: started.State, Error: "access_denied", ErrorDescription: "the user cancelled\n", BrowserState: started.State}
		_, err = f.flow.Finish(t.Context(), cb)
		refused(t, err, pantry.EFORBIDDEN, "the identity provider refused the sign-in (access_denied): the user cancelled")
		_, err = f.flow.Finish(t.Context(), cb)
		refused(t, err, pantry.EUNAUTHORIZED, "already used")
	})
	t.Run("EmailOfAnotherOrganizationIsRefused", func(t *testing.T) {
		other := f.org(t, "Other", nil)
		if _, err := f.flow.Finish(t.Context(), f.login(t, other, "ann@acme.test")); pantry.ErrorCode(err) != pantry.EFORBIDDEN ||
			!strings.Contains(pantry.ErrorMessage(err), "already signs in to another Pantry organization") {
			t.Fatalf("ann in another organization: %v", err)
		}
		if _, ok := f.users(t, other)["ann@acme.test"]; ok {
			t.Fatal("ann was created in the other organization")
		}
	})
}

func TestSignInDefaultsAndClaims(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	acme := f.org(t, "Acme", func(in *cloud.SSOConfigInput) {
		in.RoleClaim, in.RoleMap = "pantry_role", map[string]cloud.Role{"boss": cloud.RoleAdmin}
		in.DefaultRole = cloud.RoleViewer
	})
	t.Run("DefaultRoleForAnUnmappedNewUser", func(t *testing.T) {
		res, err := f.flow.Finish(t.Context(), f.login(t, acme, "nog@acme.test"))
		if err != nil || !res.Created || res.Role != cloud.RoleViewer {
			t.Fatalf("nog: %+v, %v; want created as viewer", res, err)
		}
	})
	t.Run("StringClaimMaps", func(t *testing.T) {
		res, err := f.flow.Finish(t.Context(), f.login(t, acme, "pat@acme.test"))
		if err != nil || res.Role != cloud.RoleAdmin {
			t.Fatalf("pat: %+v, %v; want admin from pantry_role=boss", res, err)
		}
	})
	t.Run("AbsentEmailVerifiedIsAccepted", func(t *testing.T) {
		f.idp.RewriteNextIDToken(func(tok string) (string, error) {
			return f.idp.Resign(tok, func(c map[string]any) { delete(c, "email_verified") })
		})
		if _, err := f.flow.Finish(t.Context(), f.login(t, acme, "vic@acme.test")); err != nil {
			t.Fatalf("vic without email_verified: %v", err)
		}
	})
}

// TestForgedTokens: ID tokens the provider did not issue for this
// sign-in are refused, and nobody is created.
func TestForgedTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	acme := f.org(t, "Acme", nil)
	tests := []struct {
		name    string
		rewrite func(tok string) (string, error)
		want    string
	}{
		{"TamperedPayload", func(tok string) (string, error) {
			return ssotest.TamperPayload(tok, func(c map[string]any) { c["groups"] = []string{"pantry-admins"} })
		}, "was refused (failed to verify signature"},
		{"AnotherAudience", func(tok string) (string, error) {
			return f.idp.Resign(tok, func(c map[string]any) { c["aud"] = "another-app" })
		}, `was refused (oidc: expected audience "pantry"`},
		{"AnotherIssuer", func(tok string) (string, error) {
			return f.idp.Resign(tok, func(c map[string]any) { c["iss"] = "https://evil.test" })
		}, "was refused (oidc: id token issued by a different provider"},
		{"Expired", func(tok string) (string, error) {
			return f.idp.Resign(tok, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })
		}, "had expired"},
		{"AnotherSignInsNonce", func(tok string) (string, error) {
			return f.idp.Resign(tok, func(c map[string]any) { c["nonce"] = pantry.NewSecret(32) })
		}, "nonce mismatch"},
		{"Unsigned", func(tok string) (string, error) {
			parts := strings.Split(tok, ".")
			return "eyJhbGciOiJub25lIn0." + parts[1] + ".", nil
		}, "was refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb := f.login(t, acme, "vic@acme.test") // a mere viewer's groups
			f.idp.RewriteNextIDToken(tt.rewrite)
			_, err := f.flow.Finish(t.Context(), cb)
			refused(t, err, pantry.EUNAUTHORIZED, tt.want)
			if n := len(f.users(t, acme)); n != 1 {
				t.Fatalf("%d users, want only the owner", n)
			}
		})
	}
}

func TestStartRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	acme := f.org(t, "Acme", nil)
	off := f.org(t, "Dormant", func(in *cloud.SSOConfigInput) { in.Enabled = false })
	ctx := t.Context()

	_, err := f.flow.Start(ctx, "acme corp", redirectURL)
	refused(t, err, pantry.EINVALID, `"acme corp" is not an organization's name or id`)
	_, err = f.flow.Start(ctx, "initech", redirectURL)
	refused(t, err, pantry.ENOTFOUND, `there is no organization "initech"`)
	_, err = f.flow.Start(ctx, pantry.NewID(), redirectURL)
	refused(t, err, pantry.ENOTFOUND, "does not use single sign-on")
	if _, err := f.store.CreateOrganization(ctx, cloud.NewOrganization{Name: "Plain", OwnerEmail: "owner@plain.example", OwnerPasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	_, err = f.flow.Start(ctx, "Plain", redirectURL)
	refused(t, err, pantry.ENOTFOUND, "organization Plain does not use single sign-on")
	_, err = f.flow.Start(ctx, off, redirectURL)
	refused(t, err, pantry.EFORBIDDEN, "single sign-on is switched off for Dormant")
	if _, err := f.flow.Start(ctx, acme, "/relative"); err == nil {
		t.Error("a relative redirect URL was accepted")
	}

	t.Run("SwitchedOffBetweenStartAndFinish", func(t *testing.T) {
		cb := f.login(t, acme, "ann@acme.test")
		cfg, _ := f.store.SSOProvider(ctx, acme)
		in := cloud.SSOConfigInput{Issuer: cfg.Issuer, ClientID: cfg.ClientID, AllowedDomains: cfg.AllowedDomains,
			RoleClaim: cfg.RoleClaim, RoleMap: cfg.RoleMap, DefaultRole: cfg.DefaultRole, Enabled: false}
		if _, err := f.store.PutSSOConfig(ctx, acme, cloud.Actor{Type: "system"}, in); err != nil {
			t.Fatal(err)
		}
		_, err := f.flow.Finish(ctx, cb)
		refused(t, err, pantry.EFORBIDDEN, "switched off for Acme")
		if n := len(f.users(t, acme)); n != 1 {
			t.Fatalf("%d users, want only the owner", n)
		}
	})
	t.Run("ProviderOnAPrivateAddressIsRefusedByDefault", func(t *testing.T) {
		strict := sso.New(f.store, sso.Options{})
		_, err := strict.Start(ctx, off, redirectURL) // switched off: refused before any fetch
		refused(t, err, pantry.EFORBIDDEN, "switched off")
		bravo := f.org(t, "Bravo", nil)
		_, err = strict.Start(ctx, bravo, redirectURL)
		refused(t, err, pantry.EUNAVAILABLE, "could not be reached")
	})
}

// TestStateOfAnotherOrganization: two organizations use the same provider
// and client, and allow the same domain. A callback that mixes one
// organization's state with the other's code, or a state whose
// organization was rewritten, creates nobody anywhere.
func TestStateOfAnotherOrganization(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	shared := func(in *cloud.SSOConfigInput) { in.AllowedDomains = []string{"shared.test"} }
	a, b := f.org(t, "Alpha", shared), f.org(t, "Bravo", shared)
	ctx := t.Context()

	startedA, err := f.flow.Start(ctx, a, redirectURL)
	if err != nil {
		t.Fatal(err)
	}
	cbB := f.login(t, b, "sam@shared.test")

	// A's state (and A's cookie) with the code of B's sign-in: the code
	// was issued against B's PKCE challenge, so A's verifier fails.
	_, err = f.flow.Finish(ctx, sso.Callback{State: startedA.State, Code: cbB.Code, BrowserState: startedA.State})
	refused(t, err, pantry.EUNAUTHORIZED, "did not accept the sign-in code")

	// B's state relabelled as A's: its hash exists only under B.
	_, secret, _ := strings.Cut(cbB.State, ".")
	forged := a + "." + secret
	_, err = f.flow.Finish(ctx, sso.Callback{State: forged, Code: cbB.Code, BrowserState: forged})
	refused(t, err, pantry.EUNAUTHORIZED, "unknown or too old")

	for _, org := range []string{a, b} {
		if _, ok := f.users(t, org)["sam@shared.test"]; ok {
			t.Fatalf("sam was created in %s", org)
		}
	}
	// B's own sign-in is untouched by the attempts.
	res, err := f.flow.Finish(ctx, f.login(t, b, "sam@shared.test"))
	if err != nil || res.OrgID != b || !res.Created {
		t.Fatalf("B's sign-in: %+v, %v", res, err)
	}
}

// TestProviderCache: sign-ins reuse the discovered provider until the
// discovery TTL passes.
func TestProviderCache(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	acme := f.org(t, "Acme", nil)
	for i, want := range []int{1, 1, 2} {
		if i == 2 {
			f.clock.set(sso.DefaultDiscoveryTTL + time.Second)
		}
		if _, err := f.flow.Start(t.Context(), acme, redirectURL); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		if got := f.idp.DiscoveryRequests(); got != want {
			t.Fatalf("after start %d: %d discovery requests, want %d", i, got, want)
		}
	}
}
