package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/internal/testport"
)

// installHint is what a machine without the server binaries needs.
const installHint = "install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql) " +
	"or set " + EnvURL + " to a server whose user may CREATE DATABASE and CREATE ROLE"

// cluster is a private PostgreSQL cluster in a temporary directory.
type cluster struct {
	dir    string // data/, the socket and postgres.log live here
	url    string // superuser URL to the postgres database
	bin    binaries
	cred   *syscall.Credential
	cfg    nodeConfig
	port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed when the postmaster has exited
	err    error         // its exit status, valid after exited is closed
}

// nodeConfig is how a cluster differs from the plain test server: the
// nodes of a Citus cluster (citus.go) load the extension, and its
// workers let the coordinator in without a password.
type nodeConfig struct {
	trustHost bool     // TCP connections need no password
	settings  []string // more server settings, as name=value
}

// binaries are the server programs of one PostgreSQL installation.
type binaries struct{ initdb, postgres string }

// findBinaries looks for initdb with postgres beside it in PATH, then in
// the highest-numbered /usr/lib/postgresql/*/bin: Debian's packages keep
// the server programs out of PATH.
func findBinaries() (binaries, error) {
	return findBinariesIn(exec.LookPath, "/usr/lib/postgresql/*/bin")
}

func findBinariesIn(lookPath func(string) (string, error), versionedGlob string) (binaries, error) {
	var dirs []string
	if p, err := lookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
	}
	versioned, _ := filepath.Glob(versionedGlob)
	slices.SortFunc(versioned, func(a, b string) int { return majorVersion(b) - majorVersion(a) })
	for _, dir := range append(dirs, versioned...) {
		b := binaries{initdb: filepath.Join(dir, "initdb"), postgres: filepath.Join(dir, "postgres")}
		if executable(b.initdb) && executable(b.postgres) {
			return b, nil
		}
	}
	return binaries{}, errors.New("no PostgreSQL server binaries (initdb and postgres) in PATH or " + versionedGlob + ": " + installHint)
}

// majorVersion reads 15 from /usr/lib/postgresql/15/bin (0 if it can't).
func majorVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// serverUser returns the credential to run the server programs with:
// PostgreSQL refuses to run as root, so as root they run as the postgres
// OS user that the server packages create. nil means "as ourselves".
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses to: no postgres OS user to run it as (%v): %s", err, installHint)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("postgres OS user has a non-numeric uid %q or gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// startCluster runs initdb in a new temporary directory and starts the
// postmaster on a free port, retrying with another port if one test
// binary's port was taken by another binary between our probe and bind.
func startCluster(ctx context.Context, cfg nodeConfig) (*cluster, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	cred, err := serverUser()
	if err != nil {
		return nil, err
	}
	// Not t.TempDir: the socket's path must stay under the 107-byte limit
	// of sun_path, and the directory must outlive any one test.
	dir, err := os.MkdirTemp(tempParent(cred), "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, errors.Join(fmt.Errorf("hand cluster directory to the postgres user: %w", err), os.RemoveAll(dir))
		}
	}
	password := randomHex(16)
	if err := initdb(ctx, bin, cred, dir, password, cfg.trustHost); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, errors.Join(err, os.RemoveAll(dir))
		}
		c, err := startPostmaster(ctx, bin, cred, cfg, dir, password, port)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, errPortTaken) || attempt == 5 {
			return nil, errors.Join(err, os.RemoveAll(dir))
		}
	}
}

// initdb creates the cluster with a superuser named postgres. Connections
// over TCP must give a password (SCRAM), as in production, so that tests
// of roles with passwords test something; the socket trusts, but the
// tests connect over TCP. trustHost lets TCP connections in without one
// (a Citus worker's, see citus.go).
func initdb(ctx context.Context, bin binaries, cred *syscall.Credential, dir, password string, trustHost bool) error {
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("write initdb password file: %w", err)
	}
	defer os.Remove(pwfile)
	if cred != nil {
		if err := os.Chown(pwfile, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("hand initdb password file to the postgres user: %w", err)
		}
	}
	authHost := "scram-sha-256"
	if trustHost {
		authHost = "trust"
	}
	cmd := exec.CommandContext(ctx, bin.initdb, "-D", filepath.Join(dir, "data"),
		"-U", "postgres", "--pwfile="+pwfile, "--auth-local=trust", "--auth-host="+authHost,
		"--encoding=UTF8", "--locale=C", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb (%s): %w\n%s", bin.initdb, err, out)
	}
	return nil
}

// tempParent is where the cluster's directory goes: the usual temporary
// directory, unless the server runs as another user (we are root) who
// could not reach it, as with TMPDIR=/root/tmp; then /tmp.
func tempParent(cred *syscall.Credential) string {
	dir := os.TempDir()
	if cred == nil {
		return dir
	}
	for d := dir; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
			return "/tmp"
		}
		if d == filepath.Dir(d) {
			return dir
		}
	}
}

var errPortTaken = errors.New("port taken")

// startPostmaster starts the server on a free port and waits until it
// accepts connections, it exits, or ctx ends.
func startPostmaster(ctx context.Context, bin binaries, cred *syscall.Credential, cfg nodeConfig, dir, password string, port int) (*cluster, error) {
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create server log: %w", err)
	}
	defer logFile.Close() // the child has its own copy
	// Durability is off: the data is thrown away when the tests end, and
	// fsync is most of what a test's CREATE DATABASE and migrations cost.
	args := []string{"-D", filepath.Join(dir, "data"),
		"-c", "listen_addresses=127.0.0.1", "-c", "port=" + strconv.Itoa(port),
		"-c", "unix_socket_directories=" + dir,
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
		"-c", "max_connections=200", "-c", "log_min_messages=warning"}
	for _, s := range cfg.settings { // later settings win over the defaults above
		args = append(args, "-c", s)
	}
	cmd := exec.Command(bin.postgres, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The server's own connections (Citus's, to its workers) read client
	// certificates from ~/.postgresql: HOME is the cluster's directory, not
	// the test runner's, which the postgres OS user may not read.
	cmd.Env = append(os.Environ(), "HOME="+dir)
	// SIGQUIT (immediate shutdown) if the test binary dies without
	// stopping us: a killed or timed-out test run leaves no server behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	c := &cluster{
		dir:    dir,
		bin:    bin,
		cred:   cred,
		cfg:    cfg,
		port:   port,
		url:    fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres?sslmode=disable", password, port),
		cmd:    cmd,
		exited: make(chan struct{}),
	}
	if err := c.spawn(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin.postgres, err)
	}
	if err := c.waitReady(ctx); err != nil {
		log, _ := os.ReadFile(logPath)
		c.kill()
		if bytes.Contains(log, []byte("could not bind")) || bytes.Contains(log, []byte("already in use")) {
			return nil, errPortTaken
		}
		return nil, fmt.Errorf("%w\nserver log (%s):\n%s", err, logPath, log)
	}
	return c, nil
}

// spawn starts the postmaster from a goroutine locked to its OS thread for
// the server's whole life. The parent-death signal fires when the thread
// that forked the child exits, not the process; Go may retire an unlocked
// goroutine's thread, which would kill the server mid-test.
func (c *cluster) spawn() error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := c.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	return <-started
}

// waitReady polls until the server accepts a connection.
func (c *cluster) waitReady(ctx context.Context) error {
	for {
		attempt, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(attempt, c.url)
		cancel()
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-c.exited:
			return fmt.Errorf("postgres exited during startup: %v", c.err)
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections within %s: %v", startTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePort finds a free port on 127.0.0.1 below the ephemeral range
// (testport). Another test may still take it before the server binds it;
// startCluster retries then.
func freePort() (int, error) {
	port, err := testport.Port()
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return port, nil
}

// stop shuts the server down (fast shutdown: sessions are ended, nothing
// is waited for) and removes its directory.
func (c *cluster) stop() error {
	var err error
	if sigErr := c.cmd.Process.Signal(syscall.SIGINT); sigErr == nil {
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			err = errors.New("postgres did not stop within 30s; killed it")
			c.kill()
		}
	}
	if rmErr := keepOr(c.dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("remove cluster directory: %w", rmErr))
	}
	return err
}

// kill ends the server at once and waits for it.
func (c *cluster) kill() {
	_ = c.cmd.Process.Kill()
	<-c.exited
}

// Cluster is a private PostgreSQL cluster a test owns alone, for tests
// that stop or restart the server under a running system. Other tests
// share one server through NewDatabase.
type Cluster struct{ c *cluster }

// StartCluster starts a private cluster for tb and stops it when tb
// ends. It needs the PostgreSQL server binaries even when EnvURL is set:
// an external server cannot be restarted by a test.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c, err := startCluster(ctx, nodeConfig{})
	if err != nil {
		tb.Fatalf("pgtest: start a private PostgreSQL cluster: %v (%s)", err, installHint)
	}
	cl := &Cluster{c: c}
	tb.Cleanup(func() {
		if err := cl.c.stop(); err != nil {
			tb.Errorf("pgtest: stop cluster: %v", err)
		}
	})
	return cl
}

// URL is the superuser's URL to the cluster's postgres database.
func (cl *Cluster) URL() string { return cl.c.url }

// Restart stops the server (fast shutdown: every session is cut) and
// starts it again on the same port and data.
func (cl *Cluster) Restart(ctx context.Context) error {
	c, err := cl.c.restart(ctx)
	if err != nil {
		return err
	}
	cl.c = c
	return nil
}

// restart stops the server (fast shutdown) and starts it again with the
// same settings, port and data; the cluster it returns replaces c. A
// Citus node (citus_cluster.go) comes back as the same node: its
// address, and the metadata that names it, are unchanged.
func (c *cluster) restart(ctx context.Context) (*cluster, error) {
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil {
		return nil, fmt.Errorf("stop postgres: %w", err)
	}
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		c.kill()
	}
	u, _ := url.Parse(c.url) // ours: it parses
	password, _ := u.User.Password()
	restarted, err := startPostmaster(ctx, c.bin, c.cred, c.cfg, c.dir, password, c.port)
	if err != nil {
		return nil, fmt.Errorf("restart postgres: %w", err)
	}
	return restarted, nil
}

func keepOr(dir string) error {
	if os.Getenv("PGTEST_KEEP") != "" {
		fmt.Println("KEPT", dir)
		return nil
	}
	return os.RemoveAll(dir)
}
