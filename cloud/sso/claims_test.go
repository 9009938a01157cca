package sso

import (
	"encoding/json"
	"testing"

	"github.com/pantry/pantry/cloud"
)

func TestParseVerified(t *testing.T) {
	tests := map[string]struct{ verified, present bool }{
		``: {false, false}, `null`: {false, false},
		`true`: {true, true}, `"true"`: {true, true},
		`false`: {false, true}, `"false"`: {false, true}, `"yes"`: {false, true}, `1`: {false, true},
	}
	for raw, want := range tests {
		v, p := parseVerified(json.RawMessage(raw))
		if v != want.verified || p != want.present {
			t.Errorf("%q: verified=%v present=%v, want %v %v", raw, v, p, want.verified, want.present)
		}
	}
}

func TestMapRole(t *testing.T) {
	cfg := cloud.SSOConfig{RoleMap: map[string]cloud.Role{"a": cloud.RoleAdmin, "f": cloud.RoleFacilityManager, "v": cloud.RoleViewer, "7": cloud.RoleViewer}}
	tests := []struct {
		name   string
		claim  any
		def    cloud.Role
		want   cloud.Role
		mapped bool
	}{
		{"String", "f", "", cloud.RoleFacilityManager, true},
		{"ListMostPrivilegedWins", []any{"v", "x", "a", "f"}, "", cloud.RoleAdmin, true},
		{"Number", []any{7.0}, "", cloud.RoleViewer, true},
		{"CaseMatters", "A", cloud.RoleViewer, cloud.RoleViewer, false},
		{"NoClaimDefault", nil, cloud.RoleViewer, cloud.RoleViewer, false},
		{"NoClaimRefused", nil, "", "", false},
		{"ObjectIgnored", map[string]any{"a": true}, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			c.DefaultRole = tt.def
			got, mapped := mapRole(c, tt.claim)
			if got != tt.want || mapped != tt.mapped {
				t.Fatalf("role %q mapped %v, want %q %v", got, mapped, tt.want, tt.mapped)
			}
		})
	}
}

func TestRefusePrivate(t *testing.T) {
	for addr, ok := range map[string]bool{
		"93.184.216.34:443": true, "[2606:2800:220:1:248:1893:25c8:1946]:443": true,
		"127.0.0.1:443": false, "[::1]:443": false, "10.1.2.3:443": false, "192.168.1.1:80": false,
		"172.16.0.1:80": false, "169.254.169.254:80": false, "0.0.0.0:80": false, "[fe80::1]:80": false, "[fd00::1]:80": false,
	} {
		if err := refusePrivate("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("%s: %v, want allowed=%v", addr, err, ok)
		}
	}
}

func TestDisplayName(t *testing.T) {
	long := ""
	for range 150 {
		long += "é"
	}
	if got := displayName(claims{Name: long}); len(got) > 200 || got != long[:200] {
		t.Errorf("long name cut to %d bytes %q", len(got), got)
	}
	if got := displayName(claims{GivenName: "Ann", FamilyName: "Lee\n"}); got != "Ann Lee" {
		t.Errorf("given+family: %q", got)
	}
}
