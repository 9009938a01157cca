package deploy

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const testVersion = "0.1.0~test1"

// buildDeb builds the package as `make package` does, into a temp dir.
func buildDeb(t *testing.T, bin string) string {
	t.Helper()
	out := t.TempDir()
	res := command{env: []string{"SOURCE_DATE_EPOCH=1765000000"}}.must(t, "bash", "debian/build.sh", bin, testVersion, out)
	deb := strings.TrimSpace(res.stdout)
	if filepath.Dir(deb) != out || !strings.HasPrefix(filepath.Base(deb), "pantry_"+testVersion+"_") {
		t.Fatalf("debian/build.sh printed %q, want %s/pantry_%s_ARCH.deb", deb, out, testVersion)
	}
	return deb
}

// TestPackage builds the Debian package and takes it apart with dpkg-deb
// and systemd's own tools: what it installs, with which modes, that its
// maintainer scripts create the user and the data directory and start
// nothing, and that the binary inside runs.
func TestPackage(t *testing.T) {
	dpkgDeb := need(t, "dpkg-deb", "dpkg")
	bin := staticPantry(t)
	deb := buildDeb(t, bin)

	arch := strings.TrimSpace(must(t, "dpkg", "--print-architecture").stdout)
	fields := must(t, dpkgDeb, "--field", deb, "Package", "Version", "Architecture", "Depends", "Maintainer").stdout
	for _, want := range []string{"Package: pantry", "Version: " + testVersion, "Architecture: " + arch, "Depends: adduser", "Maintainer: "} {
		if !strings.Contains(fields, want+"\n") && !strings.Contains(fields, want) {
			t.Errorf("dpkg-deb --field lacks %q:\n%s", want, fields)
		}
	}
	if filepath.Base(deb) != "pantry_"+testVersion+"_"+arch+".deb" {
		t.Errorf("package file %s, want pantry_%s_%s.deb", filepath.Base(deb), testVersion, arch)
	}
	info := must(t, dpkgDeb, "--info", deb).stdout
	for _, script := range []string{"postinst", "prerm", "postrm", "conffiles", "md5sums"} {
		if !strings.Contains(info, script) {
			t.Errorf("dpkg-deb --info lists no %s:\n%s", script, info)
		}
	}
	t.Run("Contents", func(t *testing.T) { checkContents(t, dpkgDeb, deb) })

	control := t.TempDir()
	must(t, dpkgDeb, "--control", deb, control)
	root := t.TempDir()
	must(t, dpkgDeb, "--extract", deb, root)
	t.Run("MaintainerScripts", func(t *testing.T) { checkMaintainerScripts(t, control) })
	t.Run("Checksums", func(t *testing.T) { checkMD5sums(t, control, root) })
	t.Run("Binary", func(t *testing.T) { checkPackagedBinary(t, root, bin) })
	t.Run("UserAndDataDirectory", func(t *testing.T) { checkSysusersTmpfiles(t, root) })
	t.Run("Lintian", func(t *testing.T) { runLintian(t, deb) })
}

// debEntry is one line of `dpkg-deb --contents`.
type debEntry struct{ perms, owner string }

func checkContents(t *testing.T, dpkgDeb, deb string) {
	entries := map[string]debEntry{}
	sc := bufio.NewScanner(strings.NewReader(must(t, dpkgDeb, "--contents", deb).stdout))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			t.Fatalf("dpkg-deb --contents line %q", sc.Text())
		}
		entries[f[5]] = debEntry{perms: f[0], owner: f[1]}
	}
	for path, perms := range map[string]string{
		"./usr/bin/pantry":                          "-rwxr-xr-x",
		"./lib/systemd/system/pantry-edge.service":  "-rw-r--r--",
		"./lib/systemd/system/pantry-cloud.service": "-rw-r--r--",
		"./usr/lib/sysusers.d/pantry.conf":          "-rw-r--r--",
		"./usr/lib/tmpfiles.d/pantry.conf":          "-rw-r--r--",
		"./etc/pantry/edge.env":                     "-rw-r--r--",
		"./usr/share/doc/pantry/copyright":          "-rw-r--r--",
		"./usr/share/doc/pantry/changelog.gz":       "-rw-r--r--",
		"./usr/share/lintian/overrides/pantry":      "-rw-r--r--",
	} {
		e, ok := entries[path]
		switch {
		case !ok:
			t.Errorf("the package does not install %s", path)
		case e.perms != perms || e.owner != "root/root":
			t.Errorf("%s is %s %s, want %s root/root", path, e.perms, e.owner, perms)
		}
	}
	for path := range entries {
		if strings.HasPrefix(path, "./var/") {
			t.Errorf("the package ships %s: /var/lib/pantry is made by tmpfiles.d with its owner, and dpkg would remove it on purge", path)
		}
	}
}

func checkMaintainerScripts(t *testing.T, control string) {
	conffiles, err := os.ReadFile(filepath.Join(control, "conffiles"))
	if err != nil || strings.TrimSpace(string(conffiles)) != "/etc/pantry/edge.env" {
		t.Errorf("conffiles = %q (%v), want /etc/pantry/edge.env", conffiles, err)
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		path := filepath.Join(control, script)
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v, mode %v; want 0755", script, err, st.Mode())
			continue
		}
		must(t, "sh", "-n", path)
		body := withoutComments(t, path)
		for _, forbidden := range []string{"systemctl enable", "systemctl start", "systemctl restart", "rm -rf /var/lib/pantry", "deluser"} {
			if strings.Contains(body, forbidden) {
				t.Errorf("%s runs %q: the package starts nothing and never deletes a building's data", script, forbidden)
			}
		}
	}
	postinst := withoutComments(t, filepath.Join(control, "postinst"))
	for _, want := range []string{"systemd-sysusers /usr/lib/sysusers.d/pantry.conf", "systemd-tmpfiles --create /usr/lib/tmpfiles.d/pantry.conf", "adduser --system"} {
		if !strings.Contains(postinst, want) {
			t.Errorf("postinst does not run %q", want)
		}
	}
}

// withoutComments is a shell script's text without its comment lines.
func withoutComments(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var code []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			code = append(code, line)
		}
	}
	return strings.Join(code, "\n")
}

// checkMD5sums checks DEBIAN/md5sums against the files extracted: what
// `debsums` and `dpkg --verify` will compare on an installed machine.
func checkMD5sums(t *testing.T, control, root string) {
	b, err := os.ReadFile(filepath.Join(control, "md5sums"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		sum, path, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("md5sums line %q", line)
		}
		data, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Errorf("md5sums names %s: %v", path, err)
			continue
		}
		if got := md5.Sum(data); hex.EncodeToString(got[:]) != sum {
			t.Errorf("md5sums: %s does not match", path)
		}
		n++
	}
	if n < 9 {
		t.Errorf("md5sums covers %d files, want every file (9)", n)
	}
}

func checkPackagedBinary(t *testing.T, root, bin string) {
	packaged := filepath.Join(root, "usr/bin/pantry")
	if sha(t, packaged) != sha(t, bin) {
		t.Errorf("usr/bin/pantry in the package differs from the binary it was built from")
	}
	help := must(t, packaged, "--help").stdout
	for _, cmd := range []string{"edge", "cloud", "healthcheck"} {
		if !strings.Contains(help, "\n  "+cmd+" ") {
			t.Errorf("pantry --help from the package lists no %q command:\n%s", cmd, help)
		}
	}
	for _, unit := range []string{"pantry-edge.service", "pantry-cloud.service"} {
		got, _ := os.ReadFile(filepath.Join(root, "lib/systemd/system", unit))
		want, _ := os.ReadFile(unit)
		if len(want) == 0 || !bytes.Equal(got, want) {
			t.Errorf("the package's %s is not deploy/%s", unit, unit)
		}
	}
}

func fileUID(st os.FileInfo) int {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(s.Uid)
	}
	return -1
}

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkSysusersTmpfiles applies the package's sysusers.d and tmpfiles.d
// files to the extracted tree (--root), as postinst does to /: the
// pantry system user and a /var/lib/pantry it owns, which is where the
// edge unit runs as and keeps its data.
func checkSysusersTmpfiles(t *testing.T, root string) {
	sysusers := need(t, "systemd-sysusers", "systemd")
	tmpfiles := need(t, "systemd-tmpfiles", "systemd")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	must(t, sysusers, "--root="+root, filepath.Join(root, "usr/lib/sysusers.d/pantry.conf"))
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	var uid int = -1
	for _, line := range strings.Split(string(passwd), "\n") {
		f := strings.Split(line, ":")
		if len(f) == 7 && f[0] == "pantry" {
			uid, _ = strconv.Atoi(f[2])
			if f[5] != "/var/lib/pantry" || f[6] != "/usr/sbin/nologin" {
				t.Errorf("pantry user %q: want home /var/lib/pantry, shell /usr/sbin/nologin", line)
			}
		}
	}
	if uid <= 0 || uid >= 1000 {
		t.Fatalf("systemd-sysusers made no system user pantry (uid %d):\n%s", uid, passwd)
	}
	must(t, tmpfiles, "--root="+root, "--create", filepath.Join(root, "usr/lib/tmpfiles.d/pantry.conf"))
	st, err := os.Stat(filepath.Join(root, "var/lib/pantry"))
	if err != nil {
		t.Fatalf("systemd-tmpfiles made no /var/lib/pantry: %v", err)
	}
	if got := st.Mode().Perm(); !st.IsDir() || got != 0o750 {
		t.Errorf("/var/lib/pantry is %v, want a 0750 directory", st.Mode())
	}
	if owner := fileUID(st); owner != uid {
		t.Errorf("/var/lib/pantry is owned by uid %d, want pantry (%d)", owner, uid)
	}
	edge := parseUnit(t, filepath.Join(root, "lib/systemd/system/pantry-edge.service"))
	if edge.last("Service", "User") != "pantry" || edge.last("Service", "StateDirectory") != "pantry" {
		t.Errorf("pantry-edge.service runs as %q with StateDirectory=%q, want the package's pantry and /var/lib/pantry",
			edge.last("Service", "User"), edge.last("Service", "StateDirectory"))
	}
}

// runLintian runs Debian's package checker. Errors fail the test;
// warnings are logged (one stands: no manual page).
func runLintian(t *testing.T, deb string) {
	lintian := need(t, "lintian", "lintian")
	res := command{timeout: 5 * time.Minute}.run(t, lintian, "--fail-on", "error", "--tag-display-limit", "0", deb)
	t.Logf("lintian:\n%s", res.stdout)
	if res.code != 0 {
		t.Errorf("lintian found errors: %s", res)
	}
}

// TestPackageBadInput: debian/build.sh refuses what would make a broken
// package, says why, and writes nothing.
func TestPackageBadInput(t *testing.T) {
	need(t, "dpkg-deb", "dpkg")
	bin := staticPantry(t)
	notExec := filepath.Join(t.TempDir(), "pantry")
	os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	for _, c := range []struct {
		name, bin, version, want string
	}{
		{"VersionWithoutDigit", bin, "v1.0", "not a Debian version"},
		{"VersionWithSpace", bin, "1.0 beta", "not a Debian version"},
		{"VersionWithSlash", bin, "1.0/2", "not a Debian version"},
		{"MissingBinary", "/nonexistent/pantry", testVersion, "not an executable"},
		{"BinaryNotExecutable", notExec, testVersion, "not an executable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			res := run(t, "bash", "debian/build.sh", c.bin, c.version, out)
			if res.code == 0 || !strings.Contains(res.stderr, c.want) {
				t.Errorf("got %s\nwant a failure saying %q", res, c.want)
			}
			if left, _ := os.ReadDir(out); len(left) != 0 {
				t.Errorf("it left %d files in the output directory", len(left))
			}
		})
	}
}
