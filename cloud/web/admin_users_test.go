package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/pantry"
)

// TestAdminIndexByRole: the administration index lists what each role
// may use, and nothing else.
func TestAdminIndexByRole(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	_, admin := adminPerson(t, s, a, "admin")
	_, viewer := adminPerson(t, s, a, "viewer")
	_, fm := adminPerson(t, s, a, "facility_manager", a.Site)
	all := []string{"/admin/users", "/admin/api-keys", "/admin/audit", "/admin/dead-letters", "/admin/sso"}
	for _, tc := range []struct {
		who   string
		email string
		shows []string
	}{
		{"Owner", a.Org.OwnerEmail, all},
		{"Admin", admin, all[:4]},
		{"Viewer", viewer, []string{"/admin/dead-letters"}},
		{"FacilityManager", fm, []string{"/admin/dead-letters"}},
	} {
		t.Run(tc.who, func(t *testing.T) {
			p := adminClient(t, s, tc.email).get(t, "/admin")
			adminWants(t, p, http.StatusOK, "Administration")
			for _, path := range all {
				shown := strings.Contains(p.Body, `data-admin-section="`+path+`"`)
				if want := slices.Contains(tc.shows, path); shown != want {
					t.Errorf("%s shown: %v, want %v", path, shown, want)
				}
			}
		})
	}
}

// TestAdminUsers: an owner adds a facility manager with a password and
// a site, who then signs in; adds someone without a password, whose
// generated password is shown once and works; changes a role; disables
// an account, which signs its person out, and enables it again.
func TestAdminUsers(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	owner := adminClient(t, s, a.Org.OwnerEmail)

	p := adminPost(t, owner, "/admin/users/new", "/admin/users", url.Values{"email": {"Fran@Acme.test"}, "name": {"Fran"},
		"role": {"facility_manager"}, "site_ids": {a.Site}, "password": {cloudtest.Password}})
	list := adminFollow(t, owner, p)
	adminWants(t, list, http.StatusOK, "Added fran@acme.test as facility manager.", a.Names[0]+" HQ")
	adminLacks(t, list, cloudtest.Password, "data-once")
	fran := adminClient(t, s, "fran@acme.test")
	adminWants(t, fran.get(t, "/"), http.StatusOK, "Facility manager")

	t.Run("NameIsText", func(t *testing.T) {
		p := adminPost(t, owner, "/admin/users/new", "/admin/users", url.Values{"email": {"mal@acme.test"}, "name": {`<script>alert("u")</script>`},
			"role": {"viewer"}, "password": {cloudtest.Password}})
		list := adminFollow(t, owner, p)
		if strings.Contains(list.Body, `<script>alert("u")`) || !strings.Contains(list.Body, "&lt;script&gt;alert(&#34;u&#34;)&lt;/script&gt;") {
			t.Fatalf("the name is not shown as text:\n%s", list.Body)
		}
	})
	t.Run("GeneratedPasswordIsShownOnce", func(t *testing.T) {
		p := adminPost(t, owner, "/admin/users/new", "/admin/users", url.Values{"email": {"gil@acme.test"}, "name": {"Gil"}, "role": {"viewer"}})
		shown := adminFollow(t, owner, p)
		m := regexp.MustCompile(`data-secret>([^<]+)<`).FindStringSubmatch(shown.Body)
		if m == nil || !strings.Contains(shown.Body, "Initial password for gil@acme.test") {
			t.Fatalf("the generated password is not shown:\n%s", shown.Body)
		}
		password := m[1]
		if again := owner.get(t, "/admin/users"); strings.Contains(again.Body, password) || strings.Contains(again.Body, "data-secret") {
			t.Fatalf("a reload shows the password again")
		}
		gil := newClient(t, s)
		if p := gil.signIn(t, "gil@acme.test", password); p.Status != http.StatusSeeOther {
			t.Fatalf("sign in with the generated password: %d", p.Status)
		}
	})
	t.Run("ChangeRole", func(t *testing.T) {
		p := adminPost(t, owner, "/admin/users/"+a.User, "/admin/users/"+a.User, url.Values{"name": {"Vera"}, "role": {"admin"}})
		page := adminFollow(t, owner, p)
		adminWants(t, page, http.StatusOK, "Saved viewer@acme.test.", "Admin ·")
		if r := s.Do(t, "GET", "/api/v1/users/"+a.User, a.Org.Token, nil); !strings.Contains(string(r.Body), `"role":"admin"`) || !strings.Contains(string(r.Body), `"name":"Vera"`) {
			t.Fatalf("stored user: %s", r.Body)
		}
	})
	t.Run("DisableSignsOutAndEnable", func(t *testing.T) {
		id, email := adminPerson(t, s, a, "viewer")
		person := adminClient(t, s, email)
		p := adminPost(t, owner, "/admin/users/"+id, "/admin/users/"+id+"/disable", url.Values{})
		adminWants(t, adminFollow(t, owner, p), http.StatusOK, "Disabled "+email, `data-user-status="disabled"`, "Enable the account")
		if p := person.get(t, "/"); p.Status != http.StatusSeeOther {
			t.Fatalf("a disabled user's session still opens the dashboard: %d", p.Status)
		}
		if p := newClient(t, s).signIn(t, email, cloudtest.Password); p.Status != http.StatusUnauthorized {
			t.Fatalf("a disabled user signs in: %d", p.Status)
		}
		p = adminPost(t, owner, "/admin/users/"+id, "/admin/users/"+id+"/enable", url.Values{})
		adminWants(t, adminFollow(t, owner, p), http.StatusOK, "Enabled "+email, `data-user-status="active"`)
		adminClient(t, s, email)
	})
}

// TestAdminUserRefusals: every bad user form comes back with the error
// next to its field, what was typed kept (never a password), and
// nothing changed.
func TestAdminUserRefusals(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	owner := adminClient(t, s, a.Org.OwnerEmail)
	newUser := func(kv ...string) url.Values {
		f := url.Values{"email": {"nia@acme.test"}, "name": {"Nia"}, "role": {"viewer"}, "password": {"a good long password"}}
		for i := 0; i < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	const create, edit = "/admin/users", "/admin/users/"
	adminCheckRefusals(t, s, a.Org.ID, owner, []adminRefusal{
		{name: "NotAnEmail", from: "/admin/users/new", path: create, form: newUser("email", "nia at acme"), status: http.StatusBadRequest,
			field: "email", says: "is not an email address", kept: []string{"nia at acme", "Nia"}},
		{name: "EmailTaken", from: "/admin/users/new", path: create, form: newUser("email", "viewer@acme.test"), status: http.StatusConflict,
			field: "email", says: "a user with this email already exists", kept: []string{"viewer@acme.test"}},
		{name: "ShortPassword", from: "/admin/users/new", path: create, form: newUser("password", "short"), status: http.StatusBadRequest,
			field: "password", says: "password must be at least 12 characters", kept: []string{"nia@acme.test"}},
		{name: "TechnicianIsNoUserRole", from: "/admin/users/new", path: create, form: newUser("role", "technician"), status: http.StatusBadRequest,
			field: "role", says: `unknown role "technician"`},
		{name: "NameWithControlCharacters", from: "/admin/users/new", path: create, form: newUser("name", "Nia\x07"), status: http.StatusBadRequest,
			field: "name", says: "name"},
		{name: "SiteOfNobody", from: "/admin/users/new", path: create, form: newUser("role", "facility_manager", "site_ids", pantry.NewID()),
			status: http.StatusBadRequest, field: "site_ids", says: "is not a site of this organization"},
		{name: "EditUnknownRole", from: edit + a.User, path: edit + a.User, form: url.Values{"name": {"V"}, "role": {"emperor"}},
			status: http.StatusBadRequest, field: "role", says: `unknown role "emperor"`},
		{name: "OwnRole", from: edit + a.Org.OwnerID, path: edit + a.Org.OwnerID, form: url.Values{"name": {"Me"}, "role": {"viewer"}},
			status: http.StatusForbidden, field: "role", says: "you cannot change your own role"},
		{name: "DisableYourself", from: edit + a.Org.OwnerID, path: edit + a.Org.OwnerID + "/disable", form: url.Values{},
			status: http.StatusForbidden, says: "cannot change your own role or disable yourself"},
		{name: "UnknownUser", from: "/admin/users", path: edit + pantry.NewID(), form: url.Values{"name": {"X"}, "role": {"viewer"}},
			status: http.StatusNotFound, says: "not found"},
	})
	t.Run("PasswordNeverShownBack", func(t *testing.T) {
		p := adminPost(t, owner, "/admin/users/new", create, newUser("email", "bad", "password", "my secret password!"))
		adminWants(t, p, http.StatusBadRequest)
		adminLacks(t, p, "my secret password!")
	})
	t.Run("WithoutCSRF", func(t *testing.T) {
		before := cloudtest.Fingerprint(t, s, a.Org.ID)
		for path, form := range map[string]url.Values{
			create:                     newUser(),
			edit + a.User:              {"name": {"X"}, "role": {"admin"}},
			edit + a.User + "/disable": {},
		} {
			if p := owner.do(t, "POST", path, form); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "This form has expired") {
				t.Errorf("POST %s without its CSRF token: %d\n%s", path, p.Status, p.Body)
			}
		}
		if after := cloudtest.Fingerprint(t, s, a.Org.ID); after != before {
			t.Fatalf("forms without a CSRF token changed data")
		}
	})
}

// TestAdminOnlyOwnersManageOwners: an admin manages users but not
// owners: they are not offered the owner role, cannot make anyone an
// owner, and see an owner's account read-only; posting anyway is
// refused and changes nothing. An owner may make another owner.
func TestAdminOnlyOwnersManageOwners(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	adminID, adminEmail := adminPerson(t, s, a, "admin")
	admin := adminClient(t, s, adminEmail)

	if p := admin.get(t, "/admin/users/new"); p.Status != http.StatusOK || strings.Contains(p.Body, `value="owner"`) {
		t.Fatalf("an admin is offered the owner role (%d)", p.Status)
	}
	owners := admin.get(t, "/admin/users/"+a.Org.OwnerID)
	adminWants(t, owners, http.StatusOK, "Only an owner can change an owner's account.")
	adminLacks(t, owners, "data-user-form", `data-action="disable"`)

	adminCheckRefusals(t, s, a.Org.ID, admin, []adminRefusal{
		{name: "CreateAnOwner", from: "/admin/users/new", path: "/admin/users",
			form:   url.Values{"email": {"o2@acme.test"}, "name": {"O2"}, "role": {"owner"}, "password": {cloudtest.Password}},
			status: http.StatusForbidden, field: "role", says: "role admin may not manage owners"},
		{name: "PromoteToOwner", from: "/admin/users/" + a.User, path: "/admin/users/" + a.User, form: url.Values{"name": {"V"}, "role": {"owner"}},
			status: http.StatusForbidden, field: "role", says: "role admin may not manage owners"},
		{name: "ChangeAnOwner", from: "/admin/users", path: "/admin/users/" + a.Org.OwnerID, form: url.Values{"name": {"Demoted"}, "role": {"viewer"}},
			status: http.StatusForbidden, says: "role admin may not manage owners"},
		{name: "DisableAnOwner", from: "/admin/users", path: "/admin/users/" + a.Org.OwnerID + "/disable", form: url.Values{},
			status: http.StatusForbidden, says: "role admin may not manage owners"},
	})

	// The owner may.
	owner := adminClient(t, s, a.Org.OwnerEmail)
	if p := owner.get(t, "/admin/users/new"); !strings.Contains(p.Body, `value="owner"`) {
		t.Fatalf("an owner is not offered the owner role")
	}
	p := adminPost(t, owner, "/admin/users/"+adminID, "/admin/users/"+adminID, url.Values{"name": {"Co-owner"}, "role": {"owner"}})
	adminWants(t, adminFollow(t, owner, p), http.StatusOK, "Owner ·")
}

// TestAdminViewerSeesButCannotChange: a viewer reads the dead letters
// but is shown no button that changes anything, and every administration
// form they post anyway is refused with 403, changing nothing; the pages
// their role may not read at all are 403 too.
func TestAdminViewerSeesButCannotChange(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	viewer := adminClient(t, s, "viewer@acme.test")

	list := viewer.get(t, "/admin/dead-letters")
	adminWants(t, list, http.StatusOK, `data-dead-letter-id="`+a.DeadLetter+`"`)
	one := viewer.get(t, "/admin/dead-letters/"+a.DeadLetter)
	adminWants(t, one, http.StatusOK, `"poison": true`)
	adminLacks(t, one, "data-reapply-form", `data-action="reapply"`)
	for _, path := range []string{"/admin/users", "/admin/users/new", "/admin/users/" + a.Org.OwnerID, "/admin/api-keys",
		"/admin/api-keys/" + a.APIKey + "/revoke", "/admin/audit", "/admin/sso"} {
		if p := viewer.get(t, path); p.Status != http.StatusForbidden {
			t.Errorf("GET %s as a viewer: %d, want 403", path, p.Status)
		}
	}
	// Their own account they may look at, not change.
	self := viewer.get(t, "/admin/users/"+a.User)
	adminWants(t, self, http.StatusOK, "Your role may not change users.")
	adminLacks(t, self, "data-user-form")

	before := cloudtest.Fingerprint(t, s, a.Org.ID)
	for path, form := range map[string]url.Values{
		"/admin/users":                                     {"email": {"x@acme.test"}, "name": {"X"}, "role": {"viewer"}, "password": {cloudtest.Password}},
		"/admin/users/" + a.User:                           {"name": {"X"}, "role": {"viewer"}},
		"/admin/users/" + a.User + "/disable":              {},
		"/admin/users/" + a.Org.OwnerID + "/disable":       {},
		"/admin/api-keys":                                  {"name": {"mine"}},
		"/admin/api-keys/" + a.APIKey + "/revoke":          {},
		"/admin/dead-letters/" + a.DeadLetter + "/reapply": {},
		"/admin/sso":                                       {"issuer": {"https://login.example.com"}, "client_id": {"x"}, "client_secret": {"y"}, "allowed_domains": {"acme.test"}, "default_role": {"viewer"}},
	} {
		p := adminPost(t, viewer, "/admin/dead-letters", path, form)
		if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "data-error") {
			t.Errorf("POST %s as a viewer: %d, want the 403 page\n%s", path, p.Status, p.Body)
		}
	}
	if after := cloudtest.Fingerprint(t, s, a.Org.ID); after != before {
		t.Fatalf("a viewer changed data:\n before %s\n after  %s", before, after)
	}
}
