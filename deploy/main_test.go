package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pantry/pantry/internal/pgtest"
	"github.com/pantry/pantry/internal/testport"
)

// built is the static binary, built once per test run into a directory
// TestMain removes.
var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

// TestMain also stops the PostgreSQL that TestMonitoringMetricsExist's
// cloud runs on, if a test started it (internal/pgtest).
func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// staticPantry builds pantry exactly as `make build` does (static,
// -trimpath, stripped), so the image and the package get the binary an
// operator would, and the Go build cache is shared with make.
func staticPantry(tb testing.TB) string {
	tb.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "pantry-deploy-bin-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "pantry")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", built.bin, "./cmd/pantry")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		tb.Fatal(built.err)
	}
	return built.bin
}

// need returns the path of a command the test cannot do without, or fails
// naming the Debian package that has it (.ci/run installs each).
func need(tb testing.TB, cmd, debianPackage string) string {
	tb.Helper()
	path, err := exec.LookPath(cmd)
	if err != nil {
		tb.Fatalf("%s is not installed: apt-get install %s (.ci/run installs it)", cmd, debianPackage)
	}
	return path
}

// result is how a command ended.
type result struct {
	stdout, stderr string
	code           int // -1 when it did not run or was killed
	err            error
}

func (r result) String() string {
	return fmt.Sprintf("exit %d (%v)\nstdout:\n%s\nstderr:\n%s", r.code, r.err, r.stdout, r.stderr)
}

// command describes a process to run: in dir (default: this package's
// directory), with extra environment variables, for at most timeout.
type command struct {
	dir     string
	env     []string
	timeout time.Duration
}

func (c command) run(tb testing.TB, name string, args ...string) result {
	tb.Helper()
	timeout := c.timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), c.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String(), code: -1, err: err}
	var exit *exec.ExitError
	switch {
	case err == nil:
		res.code = 0
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	}
	if ctx.Err() != nil {
		res.err = fmt.Errorf("%s %s: still running after %s", name, strings.Join(args, " "), timeout)
	}
	return res
}

// must runs the command and fails the test unless it exits 0.
func (c command) must(tb testing.TB, name string, args ...string) result {
	tb.Helper()
	res := c.run(tb, name, args...)
	if res.code != 0 {
		tb.Fatalf("%s %s: %s", name, strings.Join(args, " "), res)
	}
	return res
}

func run(tb testing.TB, name string, args ...string) result {
	tb.Helper()
	return command{}.run(tb, name, args...)
}

func must(tb testing.TB, name string, args ...string) result {
	tb.Helper()
	return command{}.must(tb, name, args...)
}

var envInHelp = regexp.MustCompile(`\(env (PANTRY_[A-Z0-9_]+)\)`)

// helpEnv runs `pantry ARGS... --help` and returns the PANTRY_* variables
// the command reads. It fails when the arguments do not parse (an unknown
// command or flag), which is how the tests check that a unit's ExecStart,
// a compose command or a manifest's args are real.
func helpEnv(tb testing.TB, bin string, args ...string) map[string]bool {
	tb.Helper()
	res := run(tb, bin, append(append([]string{}, args...), "--help")...)
	if res.code != 0 {
		tb.Fatalf("pantry %s --help: %s", strings.Join(args, " "), res)
	}
	vars := map[string]bool{}
	for _, m := range envInHelp.FindAllStringSubmatch(res.stdout, -1) {
		vars[m[1]] = true
	}
	return vars
}

// checkVars fails for every PANTRY_* name in names that none of the
// commands reads (known is the union of their helpEnv), so a misspelt
// variable in a deploy file cannot pass silently as an unused default.
func checkVars(tb testing.TB, where string, names []string, known map[string]bool) {
	tb.Helper()
	for _, n := range names {
		if strings.HasPrefix(n, "PANTRY_") && !known[n] {
			tb.Errorf("%s sets %s, which pantry does not read (it reads %s)", where, n, strings.Join(sortedKeys(known), ", "))
		}
	}
}

func union(sets ...map[string]bool) map[string]bool {
	all := map[string]bool{}
	for _, s := range sets {
		for k := range s {
			all[k] = true
		}
	}
	return all
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// freeAddr is a loopback address with a port nothing listens on now
// (testport).
func freeAddr(tb testing.TB) string {
	tb.Helper()
	return testport.Addr(tb)
}

// eventually calls try until it returns nil or timeout passes, then fails
// with try's last error. The machine is shared and often loaded: callers
// give generous timeouts, and nothing asserts how long it took.
func eventually(tb testing.TB, timeout time.Duration, what string, try func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
