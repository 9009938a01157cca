package web_test

import (
	"net/http"
	"net/url"

	"github.com/pantry/pantry/cloud/cloudtest"
)

func init() { attackSets = append(attackSets, adminAttacks) }

// adminAttacks aim organization B's owner at A's users, keys, audit
// entries, dead letters and single sign-on: B's own lists answer with
// B's rows only, anything of A's is not found, and the sign-in pages
// start or finish nothing for A.
func adminAttacks(a cloudtest.Tenant) map[string]pageAttack {
	user, key, dead := "/admin/users/"+a.User, "/admin/api-keys/"+a.APIKey, "/admin/dead-letters/"+a.DeadLetter
	return map[string]pageAttack{
		"GET /admin":                         {path: "/admin", want: http.StatusOK},
		"GET /admin/users":                   {path: "/admin/users", want: http.StatusOK},
		"GET /admin/users/new":               {path: "/admin/users/new", want: http.StatusOK},
		"POST /admin/users":                  {path: "/admin/users", form: url.Values{"email": {"new@beta.test"}, "name": {"New"}, "role": {"facility_manager"}, "site_ids": {a.Site}, "password": {cloudtest.Password}}, want: http.StatusBadRequest},
		"GET /admin/users/:user_id":          {path: user, want: http.StatusNotFound},
		"POST /admin/users/:user_id":         {path: user, form: url.Values{"name": {"Mallory"}, "role": {"owner"}}, want: http.StatusNotFound},
		"POST /admin/users/:user_id/disable": {path: user + "/disable", form: url.Values{}, want: http.StatusNotFound},
		"POST /admin/users/:user_id/enable":  {path: user + "/enable", form: url.Values{}, want: http.StatusNotFound},

		"GET /admin/api-keys":                 {path: "/admin/api-keys", want: http.StatusOK},
		"POST /admin/api-keys":                {path: "/admin/api-keys", form: url.Values{"name": {""}}, want: http.StatusBadRequest},
		"GET /admin/api-keys/:key_id/revoke":  {path: key + "/revoke", want: http.StatusNotFound},
		"POST /admin/api-keys/:key_id/revoke": {path: key + "/revoke", form: url.Values{}, want: http.StatusNotFound},

		"GET /admin/audit": {path: "/admin/audit?resource=user&resource_id=" + a.User, want: http.StatusOK},

		"GET /admin/dead-letters":                          {path: "/admin/dead-letters?show=all&node_id=" + a.Node, want: http.StatusOK},
		"GET /admin/dead-letters/:dead_letter_id":          {path: dead, want: http.StatusNotFound},
		"POST /admin/dead-letters/:dead_letter_id/reapply": {path: dead + "/reapply", form: url.Values{}, want: http.StatusNotFound},

		"GET /admin/sso":  {path: "/admin/sso", want: http.StatusOK},
		"POST /admin/sso": {path: "/admin/sso", form: url.Values{"issuer": {""}}, want: http.StatusBadRequest},

		// Signed out pages, asked with B's session: A has no single
		// sign-on, and a state naming A that this browser never began is
		// refused before anything of A's is read.
		"GET /login/sso":          {path: "/login/sso?org=" + a.Org.ID, want: http.StatusNotFound},
		"GET /login/sso/callback": {path: "/login/sso/callback?code=x&state=" + a.Org.ID + ".forged", want: http.StatusUnauthorized},
	}
}
