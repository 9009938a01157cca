package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/pantry"
)

var adminSecretRE = regexp.MustCompile(`data-secret>([^<]+)<`)

// TestAdminAPIKeys: an admin creates a key, which is shown once with a
// warning and works against the API; a reload, or another tab, does not
// show it again; the key's name renders as text; revoking asks first,
// then the key stops working at once.
func TestAdminAPIKeys(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	_, email := adminPerson(t, s, a, "admin")
	admin := adminClient(t, s, email)

	name := `Installer <script>alert("key")</script>`
	created := adminFollow(t, admin, adminPost(t, admin, "/admin/api-keys", "/admin/api-keys", url.Values{"name": {name}}))
	adminWants(t, created, http.StatusOK, "shown only this once")
	if !strings.Contains(created.Body, "&lt;script&gt;alert(&#34;key&#34;)&lt;/script&gt;") {
		t.Errorf("the key's name is not shown as text")
	}
	adminLacks(t, created, `<script>alert("key")`)
	m := adminSecretRE.FindStringSubmatch(created.Body)
	if m == nil {
		t.Fatalf("the new key is not shown:\n%s", created.Body)
	}
	key := m[1]
	if r := s.Do(t, "GET", "/api/v1/sites", key, nil); r.Status != http.StatusOK {
		t.Fatalf("the new key does not work: %d %s", r.Status, r.Body)
	}
	if again := admin.get(t, "/admin/api-keys"); strings.Contains(again.Body, key) || strings.Contains(again.Body, "data-secret") {
		t.Fatalf("a reload shows the key again")
	}
	row := regexp.MustCompile(`data-key-id="([^"]+)" data-revoked="false">\s*<td>Installer &lt;script`).FindStringSubmatch(created.Body)
	if row == nil {
		t.Fatalf("no row for the new key:\n%s", created.Body)
	}
	id := row[1]

	confirm := admin.get(t, "/admin/api-keys/"+id+"/revoke")
	adminWants(t, confirm, http.StatusOK, "stop working at once", `data-action="confirm-revoke"`)
	if r := s.Do(t, "GET", "/api/v1/sites", key, nil); r.Status != http.StatusOK {
		t.Fatalf("opening the confirmation revoked the key: %d", r.Status)
	}
	done := adminFollow(t, admin, adminPost(t, admin, "/admin/api-keys/"+id+"/revoke", "/admin/api-keys/"+id+"/revoke", url.Values{}))
	adminWants(t, done, http.StatusOK, "revoked: it no longer works.", `data-key-id="`+id+`" data-revoked="true"`)
	if r := s.Do(t, "GET", "/api/v1/sites", key, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("a revoked key still works: %d", r.Status)
	}
	adminWants(t, admin.get(t, "/admin/api-keys/"+id+"/revoke"), http.StatusOK, "is revoked")
}

// TestAdminAPIKeyRefusals: a key without a name, or a form without its
// token, is refused and changes nothing; revoking a key of nobody is
// not found.
func TestAdminAPIKeyRefusals(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	owner := adminClient(t, s, a.Org.OwnerEmail)
	adminCheckRefusals(t, s, a.Org.ID, owner, []adminRefusal{
		{name: "NoName", from: "/admin/api-keys", path: "/admin/api-keys", form: url.Values{"name": {"  "}},
			status: http.StatusBadRequest, field: "name", says: "an API key needs a name"},
		{name: "NameWithControlCharacters", from: "/admin/api-keys", path: "/admin/api-keys", form: url.Values{"name": {"key\x00"}},
			status: http.StatusBadRequest, field: "name", says: "name"},
		{name: "RevokeUnknown", from: "/admin/api-keys", path: "/admin/api-keys/" + pantry.NewID() + "/revoke", form: url.Values{},
			status: http.StatusNotFound, says: "not found"},
	})
	before := cloudtest.Fingerprint(t, s, a.Org.ID)
	for path, form := range map[string]url.Values{
		"/admin/api-keys": {"name": {"sneaky"}}, "/admin/api-keys/" + a.APIKey + "/revoke": {},
	} {
		if p := owner.do(t, "POST", path, form); p.Status != http.StatusForbidden {
			t.Errorf("POST %s without its CSRF token: %d", path, p.Status)
		}
	}
	if after := cloudtest.Fingerprint(t, s, a.Org.ID); after != before {
		t.Fatalf("forms without a CSRF token changed data")
	}
}
