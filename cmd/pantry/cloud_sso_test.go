package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/cloud/postgres"
	"github.com/pantry/pantry/cloud/sso/ssotest"
)

// TestCloudServeSSOPrivateNetworks: by default the cloud refuses to fetch
// an identity provider on a private or loopback address (an
// organization's admin chooses the issuer URL, and must not make the
// cloud fetch from its own network); --sso-allow-private-networks, or its
// variable, lets a cloud whose provider is on its own network use it.
func TestCloudServeSSOPrivateNetworks(t *testing.T) {
	dbURL := cloudtest.MigratedDatabase(t)
	store, err := postgres.Open(t.Context(), dbURL, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	org, err := store.CreateOrganization(t.Context(), cloud.NewOrganization{Name: "Acme", OwnerEmail: "ada@acme.test", OwnerPasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	idp := ssotest.Start(t, ssotest.Config{}) // on 127.0.0.1
	secret := idp.ClientSecret
	if _, err := store.PutSSOConfig(t.Context(), org.OrgID, cloud.Actor{Type: "system"}, cloud.SSOConfigInput{
		Issuer: idp.Issuer, ClientID: idp.ClientID, ClientSecret: &secret, AllowedDomains: []string{"acme.test"},
		DefaultRole: cloud.RoleViewer, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		allowed bool
	}{
		{"Default", nil, nil, false},
		{"Flag", nil, []string{"--sso-allow-private-networks"}, true},
		{"Environment", map[string]string{"PANTRY_SSO_ALLOW_PRIVATE_NETWORKS": "true"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"PANTRY_DATABASE_URL": dbURL, "PANTRY_HTTP_ADDR": freeAddr(t)}
			for k, v := range tc.env {
				env[k] = v
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, append([]string{"pantry", "cloud", "serve"}, tc.args...), func(k string) string { return env[k] }, io.Discard, io.Discard)
			}()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v", err)
				}
			}()
			base := "http://" + env["PANTRY_HTTP_ADDR"]
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if r, err := http.Get(base + "/readyz"); err == nil {
					r.Body.Close()
					if r.StatusCode == http.StatusOK {
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatal("the cloud was not ready within 20 s")
				}
			}
			r, err := noRedirect.Get(base + "/login/sso?org=acme")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(r.Body)
			r.Body.Close()
			toProvider := r.StatusCode == http.StatusSeeOther && strings.HasPrefix(r.Header.Get("Location"), idp.Issuer+"/authorize?")
			if toProvider != tc.allowed {
				t.Fatalf("sign-in start: %d to %q, want sent to the provider: %v\n%s", r.StatusCode, r.Header.Get("Location"), tc.allowed, body)
			}
			if !tc.allowed && (r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "identity provider")) {
				t.Fatalf("refused sign-in start: %d, want 503 saying the identity provider cannot be reached\n%s", r.StatusCode, body)
			}
		})
	}
}
