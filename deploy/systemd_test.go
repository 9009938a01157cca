package deploy

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxExposure is the bar `systemd-analyze security` must rate each unit at
// or under (0 is a sealed service, 10 an unprotected one; systemd calls
// under 2 "OK"). Measured with systemd 252: 1.1 for each. What is
// left is what a network service needs: sockets, the host's network, no
// IP allow list (phones and tablets come from anywhere on the LAN), and
// running in the host's root directory.
const maxExposure = 1.5

// unitFile is a systemd unit's settings: section -> key -> values, in
// order (a key may repeat, as SystemCallFilter= does).
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: cannot read line %q", path, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// last is the value that wins for key in section ("" when unset).
func (u unitFile) last(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// env is the PANTRY_* names the unit's Environment= lines set.
func (u unitFile) env() []string {
	var names []string
	for _, line := range u["Service"]["Environment"] {
		for _, kv := range strings.Fields(line) {
			name, _, _ := strings.Cut(strings.Trim(kv, `"`), "=")
			names = append(names, name)
		}
	}
	return names
}

// withBinary copies a unit to dir with /usr/bin/pantry (where the Debian
// package puts it) replaced by bin: `systemd-analyze verify` checks that
// every Exec command exists.
func withBinary(t *testing.T, unit, dir, bin string) string {
	t.Helper()
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, filepath.Base(unit))
	if err := os.WriteFile(out, []byte(strings.ReplaceAll(string(b), "/usr/bin/pantry", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

var exposure = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

// TestSystemdUnits verifies both units with systemd's own tools, holds
// their hardening to maxExposure and checks that what they run is real.
func TestSystemdUnits(t *testing.T) {
	analyze := need(t, "systemd-analyze", "systemd")
	bin := staticPantry(t)
	healthEnv := helpEnv(t, bin, "healthcheck")
	for _, c := range []struct {
		unit string
		want map[string]string // Service settings beyond the shared hardening
	}{
		{"pantry-edge.service", map[string]string{"User": "pantry", "Group": "pantry", "StateDirectory": "pantry",
			"Environment": "PANTRY_DATA=/var/lib/pantry", "LimitNOFILE": "65536"}},
		{"pantry-cloud.service", map[string]string{"DynamicUser": "yes", "EnvironmentFile": "/etc/pantry/cloud.env", "LimitNOFILE": "65536"}},
	} {
		t.Run(strings.TrimSuffix(c.unit, ".service"), func(t *testing.T) {
			unit := withBinary(t, c.unit, t.TempDir(), bin)
			res := must(t, analyze, "verify", unit)
			if out := strings.TrimSpace(res.stdout + res.stderr); out != "" {
				t.Errorf("systemd-analyze verify %s is not clean:\n%s", c.unit, out)
			}
			sec := must(t, analyze, "security", "--offline=true", unit)
			m := exposure.FindStringSubmatch(sec.stdout)
			if m == nil {
				t.Fatalf("systemd-analyze security gave no overall exposure:\n%s", sec)
			}
			score, _ := strconv.ParseFloat(m[1], 64)
			t.Logf("systemd-analyze security %s: exposure %.1f (bar %.1f)", c.unit, score, maxExposure)
			if score > maxExposure {
				t.Errorf("%s exposure %.1f, want at most %.1f:\n%s", c.unit, score, maxExposure, sec.stdout)
			}
			u := parseUnit(t, c.unit)
			checkHardening(t, u, c.want)
			checkExec(t, u, bin, healthEnv)
		})
	}
}

func checkHardening(t *testing.T, u unitFile, extra map[string]string) {
	t.Helper()
	want := map[string]string{
		"NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
		"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
		"ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectControlGroups": "yes",
		"MemoryDenyWriteExecute": "yes", "LockPersonality": "yes", "RestrictNamespaces": "yes",
		"RestrictSUIDSGID": "yes", "SystemCallArchitectures": "native",
	}
	for k, v := range extra {
		want[k] = v
	}
	for key, value := range want {
		vs, ok := u["Service"][key]
		switch {
		case !ok:
			t.Errorf("[Service] has no %s= (want %q)", key, value)
		case key == "Environment":
			if !strings.Contains(strings.Join(vs, " "), value) {
				t.Errorf("Environment= lacks %s", value)
			}
		case vs[len(vs)-1] != value:
			t.Errorf("%s=%q, want %q", key, vs[len(vs)-1], value)
		}
	}
	if filters := u["Service"]["SystemCallFilter"]; len(filters) == 0 || filters[0] != "@system-service" {
		t.Errorf("SystemCallFilter=%q, want @system-service first", filters)
	}
	if u.last("Service", "RestrictAddressFamilies") == "" {
		t.Error("RestrictAddressFamilies= is unset")
	}
	if u.last("Install", "WantedBy") != "multi-user.target" {
		t.Errorf("WantedBy=%q, want multi-user.target", u.last("Install", "WantedBy"))
	}
}

// checkExec runs every Exec command's arguments with --help against the
// real binary (an unknown command or flag fails) and checks the unit's
// PANTRY_* variables against what those commands read.
func checkExec(t *testing.T, u unitFile, bin string, extra map[string]bool) {
	t.Helper()
	known := map[string]bool{}
	for _, key := range []string{"ExecStartPre", "ExecStart"} {
		for _, line := range u["Service"][key] {
			fields := strings.Fields(line)
			if len(fields) < 2 || fields[0] != "/usr/bin/pantry" {
				t.Errorf("%s=%q, want /usr/bin/pantry and a command (the Debian package's path)", key, line)
				continue
			}
			known = union(known, helpEnv(t, bin, fields[1:]...))
		}
	}
	checkVars(t, "the unit", u.env(), union(known, extra))
}

// TestSystemdVerifyCatches shows that the check above can fail: a unit
// with a mistake makes `systemd-analyze verify` speak or exit non-zero.
func TestSystemdVerifyCatches(t *testing.T) {
	analyze := need(t, "systemd-analyze", "systemd")
	bin := staticPantry(t)
	for _, c := range []struct{ name, from, to string }{
		{"UnknownKey", "NoNewPrivileges=yes", "NoNewPrivilege=yes"},
		{"BadValue", "ProtectSystem=strict", "ProtectSystem=stric"},
		{"MissingBinary", "ExecStart=" + bin, "ExecStart=/nonexistent/pantry"},
	} {
		t.Run(c.name, func(t *testing.T) {
			unit := withBinary(t, "pantry-edge.service", t.TempDir(), bin)
			b, _ := os.ReadFile(unit)
			if !strings.Contains(string(b), c.from) {
				t.Fatalf("pantry-edge.service has no %q to break", c.from)
			}
			os.WriteFile(unit, []byte(strings.Replace(string(b), c.from, c.to, 1)), 0o644)
			res := run(t, analyze, "verify", unit)
			if res.code == 0 && strings.TrimSpace(res.stdout+res.stderr) == "" {
				t.Errorf("systemd-analyze verify accepted a unit with %s silently", c.to)
			}
		})
	}
}
