package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/internal/pgtest"
)

// TestCloudBootstrap runs what an operator runs on a new database: migrate,
// org create, user create, apikey create, serve; then the owner logs in
// with the printed password and the key authenticates.
func TestCloudBootstrap(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PANTRY_DATABASE_URL": pgtest.NewDatabase(t)}
	migrate := []string{"cloud", "migrate"}
	if pgtest.Citus() {
		migrate = append(migrate, "--citus")
	}
	if _, err := runPantry(t, env, migrate...); err != nil {
		t.Fatal(err)
	}
	out, err := runPantry(t, env, "cloud", "org", "create", "--name", "Acme", "--admin-email", "ada@acme.test", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var org struct {
		OrgID         string `json:"org_id"`
		Slug          string `json:"slug"`
		AdminUserID   string `json:"admin_user_id"`
		AdminPassword string `json:"admin_password"`
	}
	if err := json.Unmarshal([]byte(out), &org); err != nil || org.OrgID == "" || org.Slug != "acme" || org.AdminUserID == "" || org.AdminPassword == "" {
		t.Fatalf("org create printed %q (%v), want an id, the slug acme, the owner and a password", out, err)
	}
	if _, err := runPantry(t, env, "cloud", "org", "create", "--name", "Again", "--admin-email", "ada@acme.test"); err == nil {
		t.Fatal("a second organization with the same owner email was created")
	}
	if _, err := runPantry(t, env, "cloud", "org", "create", "--name", "Acme Two", "--slug", "acme", "--admin-email", "al@acme2.test"); err == nil ||
		!strings.Contains(err.Error(), "an organization with this slug already exists") {
		t.Fatalf("a second organization with the slug acme: %v, want refused", err)
	}
	if out, err := runPantry(t, env, "cloud", "org", "create", "--name", "Acme", "--admin-email", "al@acme2.test"); err != nil || !strings.Contains(out, "slug acme-2)") {
		t.Fatalf("a second Acme without --slug: %q %v, want the slug acme-2", out, err)
	}
	if out, err := runPantry(t, env, "cloud", "user", "create", "--org", org.OrgID, "--email", "bob@acme.test", "--role", "viewer", "--json"); err != nil || !strings.Contains(out, `"role":"viewer"`) {
		t.Fatalf("user create: %q %v", out, err)
	}
	out, err = runPantry(t, env, "cloud", "apikey", "create", "--org", org.OrgID, "--name", "Tom", "--json")
	var key struct{ Key string }
	if err != nil || json.Unmarshal([]byte(out), &key) != nil || !strings.HasPrefix(key.Key, "pk_live_") {
		t.Fatalf("apikey create: %q %v", out, err)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"pantry", "cloud", "serve", "--http", addr}, func(k string) string { return env[k] }, &strings.Builder{}, &strings.Builder{})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	base := "http://" + addr
	var resp *http.Response
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err = http.Get(base + "/readyz"); err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
	}
	login, err := http.Post(base+"/api/v1/auth/login", "application/json", strings.NewReader(`{"email":"ada@acme.test","password":"`+org.AdminPassword+`"}`))
	if err != nil || login.StatusCode != http.StatusOK {
		t.Fatalf("owner login with the printed password: %v %v", err, login)
	}
	login.Body.Close()
	req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+key.Key)
	me, err := http.DefaultClient.Do(req)
	if err != nil || me.StatusCode != http.StatusOK {
		t.Fatalf("API key from the CLI: %v %v", err, me)
	}
	me.Body.Close()
}
