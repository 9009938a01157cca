package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/pantry"
)

func createUser(tb testing.TB, s *cloudtest.Server, token, email, role string, sites ...string) (cloudtest.Response, string) {
	tb.Helper()
	if sites == nil {
		sites = []string{}
	}
	r := s.Do(tb, "POST", "/api/v1/users", token, map[string]any{"email": email, "name": "T", "role": role, "password": cloudtest.Password, "site_ids": sites})
	var u struct{ ID string }
	if r.Status == http.StatusCreated {
		r.Decode(tb, &u)
	}
	return r, u.ID
}

func TestRoles(t *testing.T) {
	s := cloudtest.Start(t)
	org := s.NewOrg(t, "acme")
	if r, _ := createUser(t, s, org.Token, "admin@acme.test", "admin"); r.Status != http.StatusCreated {
		t.Fatalf("owner creates admin: %d %s", r.Status, r.Body)
	}
	if r, _ := createUser(t, s, org.Token, "viewer@acme.test", "viewer"); r.Status != http.StatusCreated {
		t.Fatalf("owner creates viewer: %d %s", r.Status, r.Body)
	}
	admin := s.Login(t, "admin@acme.test", cloudtest.Password).AccessToken
	viewer := s.Login(t, "viewer@acme.test", cloudtest.Password).AccessToken
	tests := []struct {
		name, token, email, role string
		status                   int
	}{
		{"AdminCreatesViewer", admin, "v2@acme.test", "viewer", 201},
		{"AdminCannotCreateOwner", admin, "o2@acme.test", "owner", 403},
		{"ViewerCannotCreate", viewer, "v3@acme.test", "viewer", 403},
		{"DuplicateEmail", admin, "viewer@acme.test", "viewer", 409},
		{"BadRole", admin, "x@acme.test", "god", 400},
		{"BadEmail", admin, "not-an-email", "viewer", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.Do(t, "GET", "/api/v1/users?limit=500", org.Token, nil).Body
			r, _ := createUser(t, s, tt.token, tt.email, tt.role)
			if r.Status != tt.status {
				t.Fatalf("status=%d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if tt.status != 201 && string(s.Do(t, "GET", "/api/v1/users?limit=500", org.Token, nil).Body) != string(before) {
				t.Fatal("a refused create changed the users")
			}
		})
	}
	t.Run("ViewerCannotList", func(t *testing.T) {
		if r := s.Do(t, "GET", "/api/v1/users", viewer, nil); r.Status != http.StatusForbidden {
			t.Fatalf("status=%d", r.Status)
		}
	})
	t.Run("LastOwnerStays", func(t *testing.T) {
		r := s.Do(t, "PATCH", "/api/v1/users/"+org.OwnerID, org.Token, map[string]any{"disabled": true})
		if r.Status != http.StatusForbidden {
			t.Fatalf("owner disabling self: %d %s", r.Status, r.Body)
		}
	})
	t.Run("DisabledUserCannotLogIn", func(t *testing.T) {
		_, id := createUser(t, s, org.Token, "gone@acme.test", "viewer")
		if r := s.Do(t, "PATCH", "/api/v1/users/"+id, admin, map[string]any{"disabled": true}); r.Status != http.StatusOK {
			t.Fatalf("disable: %d %s", r.Status, r.Body)
		}
		r := s.Do(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": "gone@acme.test", "password": cloudtest.Password})
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("disabled login: %d", r.Status)
		}
	})
}

func TestAPIKeys(t *testing.T) {
	s := cloudtest.Start(t)
	org := s.NewOrg(t, "acme")
	r := s.Do(t, "POST", "/api/v1/api-keys", org.Token, map[string]string{"name": "Tom the technician"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create key: %d %s", r.Status, r.Body)
	}
	var k struct{ ID, Key, Prefix string }
	r.Decode(t, &k)
	me := s.Do(t, "GET", "/api/v1/me", k.Key, nil)
	if me.Status != http.StatusOK || !strings.Contains(string(me.Body), `"technician"`) {
		t.Fatalf("me with key: %d %s", me.Status, me.Body)
	}
	if r := s.Do(t, "POST", "/api/v1/users", k.Key, map[string]any{"email": "x@acme.test", "role": "viewer", "password": cloudtest.Password}); r.Status != http.StatusForbidden {
		t.Fatalf("technician creating a user: %d", r.Status)
	}
	list := s.Do(t, "GET", "/api/v1/api-keys", org.Token, nil)
	if strings.Contains(string(list.Body), k.Key) || !strings.Contains(string(list.Body), k.Prefix) || !strings.Contains(string(list.Body), `"last_used_at":"`) {
		t.Fatalf("listing shows the key or lacks prefix/last use: %s", list.Body)
	}
	if r := s.Do(t, "DELETE", "/api/v1/api-keys/"+k.ID, org.Token, nil); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := s.Do(t, "GET", "/api/v1/me", k.Key, nil); r.Status != http.StatusUnauthorized || r.ErrorCode() != pantry.EUNAUTHORIZED {
		t.Fatalf("revoked key: %d %s", r.Status, r.Body)
	}
	if r := s.Do(t, "GET", "/api/v1/me", k.Key[:len(k.Key)-1]+"x", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("forged key: %d", r.Status)
	}
}

func TestUsersIsolation(t *testing.T) {
	s := cloudtest.Start(t)
	a, b := s.NewOrg(t, "alpha"), s.NewOrg(t, "beta")
	_, aUser := createUser(t, s, a.Token, "someone@alpha.test", "viewer")
	for _, path := range []string{"/api/v1/users/" + aUser, "/api/v1/users/" + a.OwnerID} {
		if r := s.Do(t, "GET", path, b.Token, nil); r.Status != http.StatusNotFound {
			t.Fatalf("B reads A's user %s: %d %s", path, r.Status, r.Body)
		}
		if r := s.Do(t, "PATCH", path, b.Token, map[string]any{"name": "pwned"}); r.Status != http.StatusNotFound {
			t.Fatalf("B updates A's user %s: %d %s", path, r.Status, r.Body)
		}
	}
	if r := s.Do(t, "GET", "/api/v1/users?limit=500", b.Token, nil); strings.Contains(string(r.Body), "alpha.test") {
		t.Fatalf("B's user list shows A's users: %s", r.Body)
	}
	ak := s.Do(t, "POST", "/api/v1/api-keys", a.Token, map[string]string{"name": "A key"})
	var k struct{ ID string }
	ak.Decode(t, &k)
	if r := s.Do(t, "DELETE", "/api/v1/api-keys/"+k.ID, b.Token, nil); r.Status != http.StatusNotFound {
		t.Fatalf("B revokes A's key: %d", r.Status)
	}
}
