package ssotest

import (
	"context"
	"html/template"
	"net/http"
)

// loginPage is the provider's login step: GET shows a form for the auth
// request, POST signs in the user whose email is posted and sends the
// browser back to op's authorization callback. The markup is plain and
// labelled, with data attributes as test hooks, so a browser test can
// drive it as easily as Provider.Login does.
type loginPage struct {
	store    *storage
	callback func(ctx context.Context, requestID string) string
}

var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Test identity provider: sign in</title></head>
<body>
<main>
<h1>Sign in to the test identity provider</h1>
{{if .Error}}<p role="alert" data-error>{{.Error}}</p>{{end}}
<form method="post" action="/login" data-login-form>
<input type="hidden" name="id" value="{{.ID}}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="{{.Email}}">
<button type="submit" data-action="sign-in">Sign in</button>
</form>
</main>
</body>
</html>
`))

func (l *loginPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		l.render(w, http.StatusOK, r.URL.Query().Get("authRequestID"), "", "")
	case http.MethodPost:
		id, email := r.PostFormValue("id"), r.PostFormValue("email")
		if err := l.store.completeLogin(id, email); err != nil {
			l.render(w, http.StatusUnauthorized, id, email, err.Error())
			return
		}
		http.Redirect(w, r, l.callback(r.Context(), id), http.StatusFound)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (l *loginPage) render(w http.ResponseWriter, status int, id, email, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = loginTemplate.Execute(w, struct{ ID, Email, Error string }{id, email, msg})
}
