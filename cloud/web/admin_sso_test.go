package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/cloud/server"
)

// adminSSOServer is a cloud whose single sign-on may reach an identity
// provider on the loopback address, as the test provider is.
func adminSSOServer(tb testing.TB) *cloudtest.Server {
	tb.Helper()
	return cloudtest.Start(tb, func(cfg *server.Config) { cfg.SSO.AllowPrivateNetworks = true })
}

// adminSSOForm is a valid settings form with kv changed.
func adminSSOForm(kv ...string) url.Values {
	f := url.Values{"issuer": {"https://login.acme.example"}, "client_id": {"pantry"}, "client_secret": {"s3cret-value"},
		"allowed_domains": {"acme.test\nAcme.Example"}, "role_claim": {"groups"},
		"role_mapping": {"pantry-admins = admin\ncn=fm,ou=groups = facility_manager"}, "default_role": {"viewer"}, "enabled": {"on"}}
	for i := 0; i < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// TestAdminSSOSettings: an owner sees the callback URL to register and
// the organization's sign-in link, saves the settings, and later saves
// them again without retyping the secret, which is kept and never shown.
func TestAdminSSOSettings(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	owner := adminClient(t, s, a.Org.OwnerEmail)

	first := owner.get(t, "/admin/sso")
	if a.Org.Slug != "acme" {
		t.Fatalf("the organization acme has the slug %q", a.Org.Slug)
	}
	adminWants(t, first, http.StatusOK, "Not set up", s.URL+"/login/sso/callback", s.URL+"/login/sso?org=acme",
		"or the organization's name they type on the sign-in page: <code data-sign-in-org>acme</code>",
		"No secret is stored yet")
	saved := adminFollow(t, owner, adminPost(t, owner, "/admin/sso", "/admin/sso", adminSSOForm()))
	adminWants(t, saved, http.StatusOK, "Single sign-on settings saved: people of acme.example, acme.test can sign in",
		`data-sso-status="on"`, "A secret is stored", "cn=fm,ou=groups = facility_manager", "pantry-admins = admin")
	adminLacks(t, saved, "s3cret-value")

	again := adminFollow(t, owner, adminPost(t, owner, "/admin/sso", "/admin/sso", adminSSOForm("client_secret", "", "enabled", "")))
	adminWants(t, again, http.StatusOK, "single sign-on is off", `data-sso-status="off"`)
	p, err := s.Store().SSOProvider(context.Background(), a.Org.ID)
	if err != nil || p.ClientSecret != "s3cret-value" || p.Enabled || len(p.RoleMap) != 2 || p.DefaultRole != "viewer" {
		t.Fatalf("stored %+v (%v): want the first secret kept, switched off", p, err)
	}
	log := owner.get(t, "/admin/audit?resource=sso_config")
	adminWants(t, log, http.StatusOK, "Single sign-on settings changed", "Single sign-on settings created")
	adminLacks(t, log, "s3cret-value")
}

// TestAdminSSORefusals: settings the store's rules refuse come back with
// the error next to the field, what was typed kept (not the secret),
// and nothing saved; an admin may neither see nor change them.
func TestAdminSSORefusals(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	owner := adminClient(t, s, a.Org.OwnerEmail)
	bad := func(name, field, says string, kv ...string) adminRefusal {
		return adminRefusal{name: name, from: "/admin/sso", path: "/admin/sso", form: adminSSOForm(kv...), status: http.StatusBadRequest, field: field, says: says}
	}
	adminCheckRefusals(t, s, a.Org.ID, owner, []adminRefusal{
		bad("NoIssuer", "issuer", "issuer URL is required", "issuer", ""),
		bad("PlainHTTPIssuer", "issuer", "must be an https URL", "issuer", "http://login.acme.example"),
		bad("IssuerWithQuery", "issuer", "must not carry credentials, a query or a fragment", "issuer", "https://login.acme.example/?x=1"),
		bad("NoClientID", "client_id", "client id is required", "client_id", ""),
		bad("FirstTimeWithoutSecret", "client_secret", "client secret is required", "client_secret", ""),
		bad("SecretWithSpaces", "client_secret", "client secret must be printable ASCII without spaces", "client_secret", "two words"),
		bad("NoDomain", "allowed_domains", "name at least one email domain", "allowed_domains", ""),
		bad("NotADomain", "allowed_domains", `"localhost" is not a domain name`, "allowed_domains", "acme.test\nlocalhost"),
		bad("MappingWithoutEquals", "role_mapping", "needs the form", "role_mapping", "pantry-admins admin"),
		bad("MappingToOwner", "role_mapping", "single sign-on grants admin, facility_manager or viewer", "role_mapping", "bosses = owner"),
		bad("MappingTwice", "role_mapping", "mapped twice", "role_mapping", "a = admin\na = viewer"),
		bad("MappingWithoutClaim", "role_mapping", "name the ID-token claim", "role_claim", ""),
		bad("NobodyCouldSignIn", "role_mapping", "nobody could sign in", "role_mapping", "", "default_role", ""),
		bad("DefaultOwner", "default_role", `default role "owner"`, "default_role", "owner"),
		bad("ClaimWithSpace", "role_claim", "role claim must be printable ASCII without spaces", "role_claim", "my groups"),
	})
	t.Run("TypedValuesKeptSecretNot", func(t *testing.T) {
		p := adminPost(t, owner, "/admin/sso", "/admin/sso", adminSSOForm("issuer", "ftp://x.example", "client_secret", "typed-secret"))
		adminWants(t, p, http.StatusBadRequest, `value="ftp://x.example"`, "pantry-admins = admin")
		adminLacks(t, p, "typed-secret")
	})
	t.Run("AdminMayNot", func(t *testing.T) {
		_, email := adminPerson(t, s, a, "admin")
		admin := adminClient(t, s, email)
		adminWants(t, admin.get(t, "/admin/sso"), http.StatusForbidden, "may not manage owners")
		before := cloudtest.Fingerprint(t, s, a.Org.ID)
		p := adminPost(t, admin, "/admin", "/admin/sso", adminSSOForm())
		adminWants(t, p, http.StatusForbidden, "may not manage owners")
		if after := cloudtest.Fingerprint(t, s, a.Org.ID); after != before {
			t.Fatalf("an admin changed the single sign-on settings")
		}
	})
	t.Run("WithoutCSRF", func(t *testing.T) {
		before := cloudtest.Fingerprint(t, s, a.Org.ID)
		if p := owner.do(t, "POST", "/admin/sso", adminSSOForm()); p.Status != http.StatusForbidden {
			t.Fatalf("settings without the CSRF token: %d", p.Status)
		}
		if after := cloudtest.Fingerprint(t, s, a.Org.ID); after != before {
			t.Fatalf("settings without the CSRF token changed data")
		}
	})
	if _, err := s.Store().GetSSOConfig(context.Background(), a.Org.ID); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Fatalf("refused settings were saved: %v", err)
	}
}
