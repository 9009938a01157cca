package deploy

import (
	"archive/tar"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const testImage = "localhost/pantry-deploy-test:latest"

// maxImageSize keeps the scratch image from quietly growing a base: the
// binary (~31 MB stripped), CA certificates and zone files are ~33 MB.
const maxImageSize = 64 << 20

// podman runs podman against a private store in the test's temp dir
// (vfs driver, no systemd, no journald), so the test neither needs nor
// touches the machine's containers and images.
type podman struct {
	bin    string
	global []string
	cmd    command
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	bin := need(t, "podman", "podman")
	dir := t.TempDir()
	p := &podman{
		bin: bin,
		global: []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
			"--tmpdir", filepath.Join(dir, "libpod"), "--storage-driver", "vfs",
			"--events-backend", "file", "--cgroup-manager", "cgroupfs"},
		cmd: command{env: []string{"TMPDIR=" + dir}, timeout: 10 * time.Minute},
	}
	// Runs before t.TempDir's removal: a container left running would
	// keep mounts under dir.
	t.Cleanup(func() {
		p.run(t, "rm", "--all", "--force", "--time", "0")
		p.run(t, "rmi", "--all", "--force")
	})
	return p
}

func (p *podman) run(tb testing.TB, args ...string) result {
	tb.Helper()
	return p.cmd.run(tb, p.bin, append(append([]string{}, p.global...), args...)...)
}

func (p *podman) must(tb testing.TB, args ...string) result {
	tb.Helper()
	return p.cmd.must(tb, p.bin, append(append([]string{}, p.global...), args...)...)
}

// imageInfo is the part of `podman image inspect` the tests read.
type imageInfo struct {
	Size         int64
	ManifestType string
	Config       struct {
		User         string
		Entrypoint   []string
		Cmd          []string
		Env          []string
		WorkingDir   string
		ExposedPorts map[string]struct{}
		Labels       map[string]string
	}
	Healthcheck *struct {
		Test     []string
		Interval time.Duration
		Timeout  time.Duration
		Retries  int
	}
}

// TestImage builds the image as `make image` does, checks its
// configuration and filesystem, runs the binary found inside it against a
// real /healthz, and runs the container itself where podman can.
func TestImage(t *testing.T) {
	bin := staticPantry(t)
	p := newPodman(t)
	dir := t.TempDir()
	buildContext := filepath.Join(dir, "context")
	must(t, "bash", "image-context.sh", bin, buildContext)
	p.must(t, "build", "--format", "docker", "-f", "Containerfile", "-t", testImage,
		"--build-arg", "VERSION=0.0.0~test", "--build-arg", "REVISION=deploytest", buildContext)

	var infos []imageInfo
	out := p.must(t, "image", "inspect", testImage).stdout
	if err := json.Unmarshal([]byte(out), &infos); err != nil || len(infos) != 1 {
		t.Fatalf("podman image inspect: %v\n%s", err, out)
	}
	info := infos[0]
	t.Logf("image %s: %d bytes (%.1f MiB)", testImage, info.Size, float64(info.Size)/(1<<20))
	t.Run("Config", func(t *testing.T) { checkImageConfig(t, info) })

	fsTar := filepath.Join(dir, "fs.tar")
	p.must(t, "create", "--name", "exported", testImage)
	p.must(t, "export", "--output", fsTar, "exported")
	p.must(t, "rm", "exported")
	fromImage := filepath.Join(dir, "pantry-from-image")
	t.Run("Filesystem", func(t *testing.T) { checkImageFS(t, fsTar, fromImage) })
	if _, err := os.Stat(fromImage); err != nil {
		t.Fatalf("the image holds no usable /usr/local/bin/pantry: %v", err)
	}
	t.Run("BinaryIsStatic", func(t *testing.T) { checkStatic(t, fromImage) })
	t.Run("Healthcheck", func(t *testing.T) { checkHealthcheck(t, fromImage) })
	t.Run("HealthcheckBadInput", func(t *testing.T) { checkHealthcheckBadInput(t, fromImage) })
	t.Run("Run", func(t *testing.T) { runContainer(t, p) })
}

func checkImageConfig(t *testing.T, info imageInfo) {
	c := info.Config
	if got, want := c.User, "65532:65532"; got != want {
		t.Errorf("User=%q, want %q (non-root, numeric for runAsNonRoot)", got, want)
	}
	if got, want := strings.Join(c.Entrypoint, " "), "/usr/local/bin/pantry"; got != want {
		t.Errorf("Entrypoint=%q, want %q", got, want)
	}
	if got, want := strings.Join(c.Cmd, " "), "edge serve"; got != want {
		t.Errorf("Cmd=%q, want %q", got, want)
	}
	for _, port := range []string{"8080/tcp", "1883/tcp", "1884/tcp", "8443/tcp", "8883/tcp", "8081/tcp"} {
		if _, ok := c.ExposedPorts[port]; !ok {
			t.Errorf("port %s is not exposed (exposed: %v)", port, sortedKeys(c.ExposedPorts))
		}
	}
	for label, want := range map[string]string{
		"org.opencontainers.image.title":    "pantry",
		"org.opencontainers.image.version":  "0.0.0~test",
		"org.opencontainers.image.revision": "deploytest",
	} {
		if got := c.Labels[label]; got != want {
			t.Errorf("label %s=%q, want %q", label, got, want)
		}
	}
	if c.Labels["org.opencontainers.image.description"] == "" || c.Labels["org.opencontainers.image.created"] == "" {
		t.Errorf("labels lack a description or creation time: %v", c.Labels)
	}
	if !contains(c.Env, "PANTRY_DATA=/var/lib/pantry") {
		t.Errorf("Env=%v, want PANTRY_DATA=/var/lib/pantry", c.Env)
	}
	h := info.Healthcheck
	if h == nil {
		t.Fatalf("no HEALTHCHECK (built with --format docker? manifest %s)", info.ManifestType)
	}
	if got, want := strings.Join(h.Test, " "), "CMD /usr/local/bin/pantry healthcheck"; got != want {
		t.Errorf("HEALTHCHECK %q, want %q (exec form: a scratch image has no shell)", got, want)
	}
	if h.Interval <= 0 || h.Timeout <= 0 || h.Retries <= 0 {
		t.Errorf("HEALTHCHECK interval %s, timeout %s, retries %d: set each", h.Interval, h.Timeout, h.Retries)
	}
	if info.Size <= 0 || info.Size > maxImageSize {
		t.Errorf("image size %d bytes, want at most %d", info.Size, maxImageSize)
	}
}

// tarEntry is what the image's filesystem says about one path.
type tarEntry struct {
	hdr  *tar.Header
	body []byte // for the few small files the test reads
}

func checkImageFS(t *testing.T, fsTar, binOut string) {
	entries := readTar(t, fsTar, binOut, "etc/passwd", "etc/group")
	for _, c := range []struct {
		path     string
		typ      byte
		mode     int64
		uid, gid int
	}{
		{"usr/local/bin/pantry", tar.TypeReg, 0o755, 0, 0},
		{"etc/ssl/certs/ca-certificates.crt", tar.TypeReg, 0o644, 0, 0},
		{"etc/passwd", tar.TypeReg, 0o644, 0, 0},
		{"var/lib/pantry", tar.TypeDir, -1, 65532, 65532},
		{"tmp", tar.TypeDir, 0o1777, 0, 0},
	} {
		e, ok := entries[c.path]
		switch {
		case !ok:
			t.Errorf("/%s is missing from the image", c.path)
		case e.hdr.Typeflag != c.typ:
			t.Errorf("/%s has type %q, want %q", c.path, e.hdr.Typeflag, c.typ)
		case c.mode >= 0 && e.hdr.Mode&0o7777 != c.mode:
			t.Errorf("/%s has mode %#o, want %#o", c.path, e.hdr.Mode&0o7777, c.mode)
		case e.hdr.Uid != c.uid || e.hdr.Gid != c.gid:
			t.Errorf("/%s is owned by %d:%d, want %d:%d", c.path, e.hdr.Uid, e.hdr.Gid, c.uid, c.gid)
		}
	}
	for _, zone := range []string{"usr/share/zoneinfo/UTC", "usr/share/zoneinfo/Europe/Amsterdam", "usr/share/zoneinfo/America/New_York"} {
		if _, ok := entries[zone]; !ok {
			t.Errorf("/%s is missing: the zone files were not copied in", zone)
		}
	}
	if e := entries["usr/share/zoneinfo/Europe/Amsterdam"]; e.hdr != nil && e.hdr.Typeflag == tar.TypeSymlink && strings.HasPrefix(e.hdr.Linkname, "/") {
		if _, ok := entries[strings.TrimPrefix(e.hdr.Linkname, "/")]; !ok {
			t.Errorf("/usr/share/zoneinfo/Europe/Amsterdam links to %s, which the image lacks", e.hdr.Linkname)
		}
	}
	if e := entries["etc/passwd"]; e.hdr != nil && !strings.Contains(string(e.body), "pantry:x:65532:65532:") {
		t.Errorf("/etc/passwd does not name uid 65532:\n%s", e.body)
	}
	for _, shell := range []string{"bin/sh", "usr/bin/sh", "bin/busybox"} {
		if _, ok := entries[shell]; ok {
			t.Errorf("/%s is in the image: it should be FROM scratch, with nothing but pantry to run", shell)
		}
	}
}

// readTar indexes a filesystem tar by path (no leading "./" or "/"),
// copies usr/local/bin/pantry to binOut and keeps the bodies of the small
// files named in keep.
func readTar(t *testing.T, path, binOut string, keep ...string) map[string]tarEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries := map[string]tarEntry{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(hdr.Name, "./"), "/"), "/")
		e := tarEntry{hdr: hdr}
		switch {
		case name == "usr/local/bin/pantry" && hdr.Typeflag == tar.TypeReg:
			copyOut(t, tr, binOut)
		case contains(keep, name):
			if e.body, err = io.ReadAll(io.LimitReader(tr, 1<<20)); err != nil {
				t.Fatalf("read /%s from the image: %v", name, err)
			}
		}
		entries[name] = e
	}
}

func copyOut(t *testing.T, r io.Reader, path string) {
	t.Helper()
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, r); err != nil {
		t.Fatalf("copy the image's binary out: %v", err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkStatic fails for a binary that needs a dynamic loader: FROM scratch
// has none, and the container would fail with a bare "no such file".
func checkStatic(t *testing.T, path string) {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("the image's pantry is not an ELF binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("the image's pantry asks for a dynamic loader: build it with CGO_ENABLED=0")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("the image's pantry links shared libraries %v: build it with CGO_ENABLED=0", libs)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// edgeProc is an edge node the test started from a binary.
type edgeProc struct {
	cmd  *exec.Cmd
	addr string
	log  string
	done chan struct{} // closed when the process has exited; then err is set
	err  error
}

// startEdge runs `pantry edge serve --demo` on loopback ports with a temp
// data directory, and stops it (SIGTERM, then SIGKILL) when the test ends.
func startEdge(t *testing.T, bin string) *edgeProc {
	t.Helper()
	dir := t.TempDir()
	e := &edgeProc{addr: freeAddr(t), log: filepath.Join(dir, "edge.log"), done: make(chan struct{})}
	logFile, err := os.Create(e.log)
	if err != nil {
		t.Fatal(err)
	}
	e.cmd = exec.Command(bin, "edge", "serve", "--demo", "--data", filepath.Join(dir, "data"),
		"--http", e.addr, "--mqtt", "127.0.0.1:0", "--mqtt-ws", "")
	e.cmd.Stdout, e.cmd.Stderr = logFile, logFile
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := e.cmd.Start(); err != nil {
		t.Fatalf("start %s edge serve: %v", bin, err)
	}
	go func() {
		e.err = e.cmd.Wait()
		logFile.Close()
		close(e.done)
	}()
	t.Cleanup(func() { e.stop(t) })
	return e
}

// stop ends the node with SIGTERM and waits for it; a node that ignores
// SIGTERM for a minute is killed and the test fails.
func (e *edgeProc) stop(t *testing.T) {
	t.Helper()
	if e.exited() {
		return
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(time.Minute):
		e.cmd.Process.Kill()
		<-e.done
		t.Errorf("edge serve ignored SIGTERM for a minute; log:\n%s", e.logText())
	}
}

func (e *edgeProc) exited() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

func (e *edgeProc) logText() string {
	b, _ := os.ReadFile(e.log)
	return string(b)
}

// checkHealthcheck runs `pantry healthcheck` (the image's HEALTHCHECK)
// from the image's binary against a real edge node, the way a container
// runtime does: healthy, unhealthy on a wrong path, and after the node
// stopped.
func checkHealthcheck(t *testing.T, bin string) {
	e := startEdge(t, bin)
	hc := command{env: []string{"PANTRY_HTTP_ADDR=" + e.addr}, timeout: time.Minute}
	eventually(t, 2*time.Minute, "edge /healthz through pantry healthcheck", func() error {
		if e.exited() {
			t.Fatalf("edge serve exited: %v\n%s", e.err, e.logText())
		}
		if res := hc.run(t, bin, "healthcheck", "--timeout", "5s"); res.code != 0 {
			return errors.New(res.String())
		}
		return nil
	})
	res := hc.must(t, bin, "healthcheck", "--json")
	var got struct {
		URL    string
		OK     bool
		Status int
	}
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil {
		t.Fatalf("healthcheck --json: %v\n%s", err, res.stdout)
	}
	if want := "http://" + e.addr + "/healthz"; got.URL != want || !got.OK || got.Status != http.StatusOK {
		t.Errorf("healthcheck --json = %+v, want ok, 200 at %s", got, want)
	}
	_, port, _ := strings.Cut(e.addr, ":")
	must(t, bin, "healthcheck", "--http", ":"+port) // a wildcard listen address is asked on 127.0.0.1

	notFound := run(t, bin, "healthcheck", "--url", "http://"+e.addr+"/no-such-page")
	if notFound.code != 1 || !strings.Contains(notFound.stderr, "404") {
		t.Errorf("healthcheck of a 404: %s, want exit 1 naming the 404", notFound)
	}
	e.stop(t)
	down := hc.run(t, bin, "healthcheck", "--timeout", "5s")
	if down.code != 1 || !strings.Contains(down.stderr, "healthcheck:") {
		t.Errorf("healthcheck of a stopped node: %s, want exit 1 and the reason", down)
	}
	if e.cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("edge serve exited %d on SIGTERM, want 0; log:\n%s", e.cmd.ProcessState.ExitCode(), e.logText())
	}
}

// checkHealthcheckBadInput: each mistake exits 1 with a message naming
// what to fix, and asks nothing.
func checkHealthcheckBadInput(t *testing.T, bin string) {
	for _, c := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"URLNotHTTP", []string{"--url", "ftp://127.0.0.1/healthz"}, nil, "--url"},
		{"URLRelative", []string{"--url", "/healthz"}, nil, "give an absolute http(s) URL"},
		{"HTTPWithoutPort", []string{"--http", "8080"}, nil, "--http"},
		{"HTTPPortZero", []string{"--http", ":0"}, nil, "--http"},
		{"ZeroTimeout", []string{"--timeout", "0s"}, nil, "--timeout"},
		{"BadTimeoutEnv", nil, []string{"PANTRY_HEALTHCHECK_TIMEOUT=soon"}, "PANTRY_HEALTHCHECK_TIMEOUT"},
		{"BadAddrEnv", nil, []string{"PANTRY_HTTP_ADDR=localhost"}, "--http"},
		{"ExtraArgument", []string{"now"}, nil, `"now"`},
		{"UnknownFlag", []string{"--port", "8080"}, nil, "unknown flag"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := command{env: c.env}.run(t, bin, append([]string{"healthcheck"}, c.args...)...)
			if res.code != 1 || !strings.Contains(res.stderr, c.want) || res.stdout != "" {
				t.Errorf("got %s\nwant exit 1, stderr naming %q, nothing on stdout", res, c.want)
			}
		})
	}
}

// runContainer runs the image where this machine's podman can, and says
// which runtime did it, or why none could. On this project's machines
// crun refuses ("cgroups in hybrid mode not supported") and runc works;
// both need the open-files and process limits lowered below the host's,
// as the sandbox may not raise them.
func runContainer(t *testing.T, p *podman) {
	addr := freeAddr(t)
	attempts := [][]string{nil}
	if _, err := exec.LookPath("runc"); err == nil {
		attempts = append(attempts, []string{"--runtime", "runc"})
	}
	var failures []string
	var used string
	for i, extra := range attempts {
		name := "edge" + strconv.Itoa(i)
		args := append([]string{"run", "--detach", "--name", name, "--pull", "never", "--network", "host",
			"--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
			"--env", "PANTRY_HTTP_ADDR=" + addr}, extra...)
		args = append(args, testImage, "edge", "serve", "--demo", "--mqtt", "127.0.0.1:0", "--mqtt-ws=")
		res := p.run(t, args...)
		if res.code == 0 {
			used = name
			t.Logf("podman run works here (runtime: %s)", runtimeName(extra))
			break
		}
		failures = append(failures, fmt.Sprintf("%s: %s", runtimeName(extra), lastLine(res.stderr)))
		p.run(t, "rm", "--force", name)
	}
	if used == "" {
		t.Logf("podman run does not work on this machine, so the container was not run; the image's own binary was run outside it above instead (%s)",
			strings.Join(failures, "; "))
		return
	}
	checkRunningContainer(t, p, used, addr)
}

func checkRunningContainer(t *testing.T, p *podman, name, addr string) {
	eventually(t, 2*time.Minute, "the container's HEALTHCHECK (podman healthcheck run)", func() error {
		if state := p.run(t, "inspect", "--format", "{{.State.Running}}", name); strings.TrimSpace(state.stdout) != "true" {
			t.Fatalf("the container stopped: %s\nlogs: %s", state, p.run(t, "logs", name))
		}
		res := p.run(t, "healthcheck", "run", name)
		if strings.Contains(res.stderr, "no defined healthcheck") {
			t.Fatalf("the container has no HEALTHCHECK: %s", res)
		}
		if res.code != 0 {
			return errors.New(res.String())
		}
		return nil
	})
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz from outside the container: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz from outside the container: %s", resp.Status)
	}
	pid := strings.TrimSpace(p.must(t, "inspect", "--format", "{{.State.Pid}}", name).stdout)
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatalf("read the container's process status: %v", err)
	}
	if !strings.Contains(string(status), "\nUid:\t65532\t") {
		t.Errorf("the container's process does not run as uid 65532:\n%s", status)
	}
	// The demo seeded into the image's /var/lib/pantry: writable by 65532.
	p.must(t, "cp", name+":/var/lib/pantry/demo.json", t.TempDir())
	p.must(t, "stop", "--time", "60", name)
	if code := strings.TrimSpace(p.must(t, "inspect", "--format", "{{.State.ExitCode}}", name).stdout); code != "0" {
		t.Errorf("the container exited %s on SIGTERM, want 0; logs:\n%s", code, p.run(t, "logs", name))
	}
}

func runtimeName(extra []string) string {
	if len(extra) == 2 {
		return extra[1]
	}
	return "podman's default"
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestImageContextBadInput: image-context.sh refuses a missing or
// non-executable binary and wrong arguments, says why, and leaves the
// output directory as it was.
func TestImageContextBadInput(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "pantry")
	os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"MissingBinary", []string{"/nonexistent/pantry"}, 1, "is not an executable"},
		{"BinaryNotExecutable", []string{notExec}, 1, "is not an executable"},
		{"NoDirectory", nil, 2, "usage:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			keep := filepath.Join(dir, "keep")
			os.WriteFile(keep, []byte("x"), 0o644)
			args := append([]string{"image-context.sh"}, c.args...)
			if c.args != nil {
				args = append(args, dir)
			}
			res := run(t, "bash", args...)
			if res.code != c.code || !strings.Contains(res.stderr, c.want) {
				t.Errorf("got %s\nwant exit %d saying %q", res, c.code, c.want)
			}
			if _, err := os.Stat(keep); err != nil {
				t.Errorf("it emptied the output directory: %v", err)
			}
		})
	}
}
