package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportRules lists every package of the module, its tests and its
// dependencies with `go list -deps -test`, and fails for each package that
// depends, directly or through other packages, on an import its directory
// forbids. Test code is held to the same rules: an edge test that needs the
// cloud belongs in cmd/pantry, which wires both.
func TestImportRules(t *testing.T) {
	t.Parallel()
	module, pkgs := listPackages(t)
	rs := rules(module)
	violations, matched := check(module, pkgs, rs)
	for _, r := range rs {
		switch n := matched[r.scope()]; {
		case n == 0 && r.required:
			t.Errorf("no packages in %s: the rule %q would pass without checking anything", r.scope(), r.why)
		case n == 0:
			t.Logf("no packages in %s yet: rule %q not checked", r.scope(), r.why)
		case r.codeOnly:
			t.Logf("%s: %d packages checked, not their tests: %s", r.scope(), n, r.why)
		default:
			t.Logf("%s: %d packages checked, with their tests: %s", r.scope(), n, r.why)
		}
	}
	for _, v := range violations {
		t.Error(v)
	}
}

// rule forbids the packages in one directory of the module, and their
// tests, to depend on some import paths.
type rule struct {
	dir    string // module-relative; "edge" covers edge and edge/..., "." the whole module
	why    string
	forbid func(importPath string) bool
	// required: the directory must hold packages, or the rule proves nothing.
	required bool
	// exact: the rule covers the directory's own package, not those below.
	exact bool
	// codeOnly: the rule holds the package's code, not its tests, which may
	// wire the real adapters (an API test runs against the real store).
	codeOnly bool
}

// scope names the packages r covers: "cloud/" (and below), or "cloud"
// (the package alone).
func (r rule) scope() string {
	switch {
	case r.exact:
		return r.dir
	case r.dir == ".":
		return "./..."
	}
	return r.dir + "/"
}

// covers reports whether r applies to the package (or test variant) named
// importPath in module.
func (r rule) covers(module, importPath string) bool {
	name := packagePath(importPath)
	if r.codeOnly && name != importPath {
		return false
	}
	switch {
	case r.dir == ".":
		return under(module)(name)
	case r.exact:
		return name == module+"/"+r.dir
	}
	return under(module + "/" + r.dir)(name)
}

// rules are STYLE.md's import rules for the module named module.
func rules(module string) []rule {
	edge, cloud, syncproto := under(module+"/edge"), under(module+"/cloud"), under(module+"/syncproto")
	pgx, sqlite := under("github.com/jackc/pgx"), under("modernc.org/sqlite")
	mochi, fiber := under("github.com/mochi-mqtt"), under("github.com/gofiber/fiber")
	cloudPkgs := func(p string) bool { return strings.HasPrefix(p, module+"/cloud/") }
	store, auth := under(module+"/cloud/postgres"), under(module+"/cloud/auth")
	api, web, server := under(module+"/cloud/api"), under(module+"/cloud/web"), under(module+"/cloud/server")
	browsertest := under(module + "/internal/browsertest")
	return []rule{
		{dir: "edge", required: true, why: "edge never imports cloud or pgx", forbid: anyOf(cloud, pgx)},
		{dir: "cloud", why: "cloud never imports edge, SQLite or mochi", forbid: anyOf(edge, sqlite, mochi)},
		{dir: "syncproto", why: "syncproto imports only the standard library",
			forbid: func(p string) bool { return !standard(p) && !syncproto(p) }},
		{dir: "internal/pantry", required: true, why: "the domain imports no edge, cloud, syncproto, mochi, SQLite, pgx or fiber",
			forbid: anyOf(edge, cloud, syncproto, mochi, sqlite, pgx, fiber)},
		{dir: "cloud", exact: true, required: true, why: "the cloud's domain imports none of the cloud's packages, pgx or fiber",
			forbid: anyOf(cloudPkgs, pgx, fiber)},
		{dir: "cloud/api", codeOnly: true, required: true, why: "the API depends on the cloud's services, not on the store or pgx",
			forbid: anyOf(store, pgx, server)},
		{dir: "cloud/web", codeOnly: true, why: "the dashboard depends on the cloud's services, not on the store or pgx",
			forbid: anyOf(store, pgx, server)},
		{dir: "cloud/syncserver", codeOnly: true, required: true, why: "the sync server's policy reaches the database only through its Store",
			forbid: anyOf(store, pgx, fiber, api)},
		{dir: "cloud/postgres", codeOnly: true, required: true, why: "the store stores: it does not import auth, the sync server or HTTP",
			forbid: anyOf(auth, under(module+"/cloud/syncserver"), api, web, server, fiber)},
		{dir: "cloud/auth", required: true, why: "auth decides, with no storage and no transport",
			forbid: anyOf(store, api, web, server, pgx, fiber)},
		{dir: ".", codeOnly: true, required: true, why: "only tests drive a browser: internal/browsertest is for _test files",
			forbid: browsertest},
	}
}

// under matches prefix and the packages below it, but not a sibling that
// merely shares the prefix ("a/b" matches "a/b/c", not "a/bc").
func under(prefix string) func(string) bool {
	return func(p string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
}

func anyOf(fs ...func(string) bool) func(string) bool {
	return func(p string) bool { return slices.ContainsFunc(fs, func(f func(string) bool) bool { return f(p) }) }
}

// standard reports whether p is in the standard library: its first path
// element has no dot, unlike every module path ("github.com/...",
// "modernc.org/...").
func standard(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	return !strings.Contains(first, ".")
}

// pkg is one package as `go list -json` reports it. With -test, the
// package compiled with its tests is listed as "p [p.test]", its external
// test package as "p_test [p.test]" and the test binary as "p.test".
type pkg struct {
	ImportPath string
	Imports    []string // direct imports
	Deps       []string // every package it depends on, transitively
	Error      *struct{ Err string }
}

// packagePath maps a name from `go list -test` back to the import path of
// its directory: "p [p.test]", "p_test [p.test]" and "p.test" all to "p".
func packagePath(importPath string) string {
	p, _, _ := strings.Cut(importPath, " [")
	if q, ok := strings.CutSuffix(p, ".test"); ok {
		return q
	}
	return strings.TrimSuffix(p, "_test")
}

// violation is one package depending on one import its rule forbids.
type violation struct {
	pkg, imp, why string
	via           []string // packages between pkg and imp on a shortest path
	test          bool     // only the package's tests depend on imp
}

func (v violation) String() string {
	var b strings.Builder
	b.WriteString(v.pkg)
	if v.test {
		b.WriteString(" (in its tests)")
	}
	b.WriteString(" imports " + v.imp)
	if len(v.via) > 0 {
		b.WriteString(" via " + strings.Join(v.via, " -> "))
	}
	b.WriteString(": " + v.why)
	return b.String()
}

// check applies rs to the packages of module in pkgs, which may also list
// their dependencies (as -deps does), and returns each violation once per
// package and import. Only the first forbidden package on a path is
// reported: pgx, not also the pgx packages pgx imports. It also counts the
// module's packages in each rule's directory.
func check(module string, pkgs []pkg, rs []rule) ([]violation, map[string]int) {
	byPath := make(map[string]*pkg, len(pkgs))
	for i := range pkgs {
		byPath[pkgs[i].ImportPath] = &pkgs[i]
	}
	var out []violation
	matched := map[string]int{}
	seen := map[string]bool{}
	for _, p := range ordered(pkgs) {
		name := packagePath(p.ImportPath)
		for _, r := range rs {
			if !r.covers(module, p.ImportPath) {
				continue
			}
			if !seen[r.scope()+" "+name] {
				seen[r.scope()+" "+name] = true
				matched[r.scope()]++
			}
			out = append(out, checkPackage(byPath, p, r, seen)...)
		}
	}
	return out, matched
}

// ordered puts packages before test variants, so that an import the
// package itself makes is not blamed on its tests.
func ordered(pkgs []pkg) []pkg {
	out := slices.Clone(pkgs)
	slices.SortStableFunc(out, func(a, b pkg) int {
		at, bt := packagePath(a.ImportPath) != a.ImportPath, packagePath(b.ImportPath) != b.ImportPath
		switch {
		case at == bt:
			return strings.Compare(a.ImportPath, b.ImportPath)
		case bt:
			return -1
		}
		return 1
	})
	return out
}

func checkPackage(byPath map[string]*pkg, p pkg, r rule, seen map[string]bool) []violation {
	var out []violation
	name := packagePath(p.ImportPath)
	for _, dep := range p.Deps {
		imp := packagePath(dep)
		key := r.scope() + " " + name + " " + imp
		if !r.forbid(imp) || seen[key] {
			continue
		}
		via := slices.DeleteFunc(importChain(byPath, p.ImportPath, dep), func(v string) bool { return v == name })
		if slices.ContainsFunc(via, r.forbid) {
			continue // reported at the first forbidden package on the path
		}
		seen[key] = true
		out = append(out, violation{pkg: name, imp: imp, why: r.why, via: via, test: name != p.ImportPath})
	}
	return out
}

// importChain returns the packages strictly between from and to on a
// shortest import path, found breadth-first over Imports.
func importChain(byPath map[string]*pkg, from, to string) []string {
	prev := map[string]string{from: ""}
	for queue := []string{from}; len(queue) > 0 && queue[0] != to; queue = queue[1:] {
		if p := byPath[queue[0]]; p != nil {
			for _, next := range p.Imports {
				if _, ok := prev[next]; !ok {
					prev[next] = queue[0]
					queue = append(queue, next)
				}
			}
		}
	}
	var via []string
	if _, ok := prev[to]; !ok {
		return via
	}
	for cur := prev[to]; cur != from; cur = prev[cur] {
		via = append(via, packagePath(cur))
	}
	slices.Reverse(via)
	return via
}

// listPackages returns the module's path and every package `go list -deps
// -test` reports for it. -e keeps a package that does not build (someone's
// work in progress) from hiding the others; its error is logged.
func listPackages(t *testing.T) (string, []pkg) {
	t.Helper()
	var mod struct{ Module struct{ Path, Dir string } }
	if err := json.Unmarshal(goCmd(t, ".", "list", "-json=Module", "."), &mod); err != nil {
		t.Fatalf("go list -json=Module: %v", err)
	}
	out := goCmd(t, mod.Module.Dir, "list", "-e", "-deps", "-test", "-json=ImportPath,Imports,Deps,Error", "./...")
	var pkgs []pkg
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p pkg
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if p.Error != nil && under(mod.Module.Path)(packagePath(p.ImportPath)) {
			t.Logf("go list: %s: %s (its imports may be incomplete)", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	return mod.Module.Path, pkgs
}

func goCmd(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// TestCheck proves the rules catch what they must and let the rest through,
// on synthetic import graphs: a rule that can never fail is worse than none.
func TestCheck(t *testing.T) {
	const m = "example.com/m"
	tests := []struct {
		name  string
		graph map[string][]string // each package's direct imports
		want  []string
	}{
		{"EdgeImportsPgxThroughAHelper", map[string][]string{
			m + "/edge/web":           {"net/http", m + "/internal/pgtest"},
			m + "/internal/pgtest":    {"github.com/jackc/pgx/v5"},
			"github.com/jackc/pgx/v5": {"github.com/jackc/pgx/v5/pgconn"},
		}, []string{m + "/edge/web imports github.com/jackc/pgx/v5 via " + m + "/internal/pgtest: edge never imports cloud or pgx"}},
		{"EdgeImportsCloud", map[string][]string{
			m + "/edge/syncer": {m + "/cloud/api"},
		}, []string{m + "/edge/syncer imports " + m + "/cloud/api: edge never imports cloud or pgx"}},
		{"EdgeTestImportsCloud", map[string][]string{
			m + "/edge/sqlite": {"database/sql"},
			m + "/edge/sqlite_test [" + m + "/edge/sqlite.test]": {m + "/edge/sqlite", m + "/cloud/postgres"},
		}, []string{m + "/edge/sqlite (in its tests) imports " + m + "/cloud/postgres: edge never imports cloud or pgx"}},
		{"CloudImportsSQLiteAndMochi", map[string][]string{
			m + "/cloud/api":         {"modernc.org/sqlite", "github.com/mochi-mqtt/server/v2"},
			"modernc.org/sqlite":     {"modernc.org/sqlite/lib", "modernc.org/libc"},
			"modernc.org/sqlite/lib": {"modernc.org/libc"},
		}, []string{
			m + "/cloud/api imports github.com/mochi-mqtt/server/v2: cloud never imports edge, SQLite or mochi",
			m + "/cloud/api imports modernc.org/sqlite: cloud never imports edge, SQLite or mochi",
		}},
		{"SyncprotoImportsAModule", map[string][]string{
			m + "/syncproto":       {"encoding/json", m + "/internal/pantry"},
			m + "/internal/pantry": {"github.com/google/uuid"},
		}, []string{m + "/syncproto imports " + m + "/internal/pantry: syncproto imports only the standard library"}},
		{"SyncprotoImportsStandardLibraryAndItself", map[string][]string{
			m + "/syncproto":             {"encoding/json", "time", m + "/syncproto/internal/v1"},
			m + "/syncproto/internal/v1": {"errors"},
		}, nil},
		{"DomainImportsTheWire", map[string][]string{
			m + "/internal/pantry": {m + "/syncproto"},
		}, []string{m + "/internal/pantry imports " + m + "/syncproto: the domain imports no edge, cloud, syncproto, mochi, SQLite, pgx or fiber"}},
		{"DomainImportsFiber", map[string][]string{
			m + "/internal/pantry": {"github.com/gofiber/fiber/v2"},
		}, []string{m + "/internal/pantry imports github.com/gofiber/fiber/v2: the domain imports no edge, cloud, syncproto, mochi, SQLite, pgx or fiber"}},
		{"MainWiresBothSides", map[string][]string{
			m + "/cmd/pantry":   {m + "/edge", m + "/cloud/server"},
			m + "/edge":         {m + "/edge/sqlite", m + "/internal/pantry"},
			m + "/edge/sqlite":  {"modernc.org/sqlite"},
			m + "/cloud/server": {"github.com/jackc/pgx/v5"},
		}, nil},
		{"APIImportsTheStore", map[string][]string{
			m + "/cloud/api":      {m + "/cloud", m + "/cloud/postgres"},
			m + "/cloud/postgres": {m + "/cloud", "github.com/jackc/pgx/v5"},
		}, []string{m + "/cloud/api imports " + m + "/cloud/postgres: the API depends on the cloud's services, not on the store or pgx"}},
		{"APITestsRunAgainstTheRealStore", map[string][]string{
			m + "/cloud/api": {m + "/cloud"},
			m + "/cloud/api_test [" + m + "/cloud/api.test]": {m + "/cloud/api", m + "/cloud/cloudtest"},
			m + "/cloud/cloudtest":                           {m + "/cloud/postgres"},
			m + "/cloud/postgres":                            {m + "/cloud", "github.com/jackc/pgx/v5"},
		}, nil},
		{"StoreImportsAuth", map[string][]string{
			m + "/cloud/postgres": {m + "/cloud", m + "/cloud/auth"},
		}, []string{m + "/cloud/postgres imports " + m + "/cloud/auth: the store stores: it does not import auth, the sync server or HTTP"}},
		{"DomainImportsAnAdapter", map[string][]string{
			m + "/cloud":        {m + "/cloud/auth", "github.com/jackc/pgx/v5/pgconn"},
			m + "/cloud/server": {m + "/cloud", m + "/cloud/postgres"},
		}, []string{
			m + "/cloud imports " + m + "/cloud/auth: the cloud's domain imports none of the cloud's packages, pgx or fiber",
			m + "/cloud imports github.com/jackc/pgx/v5/pgconn: the cloud's domain imports none of the cloud's packages, pgx or fiber",
		}},
		{"SyncServerReachesPgx", map[string][]string{
			m + "/cloud/syncserver": {m + "/cloud", m + "/internal/pgtest"},
			m + "/internal/pgtest":  {"github.com/jackc/pgx/v5"},
		}, []string{m + "/cloud/syncserver imports github.com/jackc/pgx/v5 via " + m + "/internal/pgtest: the sync server's policy reaches the database only through its Store"}},
		{"HelperImportsBrowsertest", map[string][]string{
			m + "/edge/edgetest":        {m + "/internal/browsertest"},
			m + "/internal/browsertest": {"github.com/chromedp/chromedp"},
		}, []string{m + "/edge/edgetest imports " + m + "/internal/browsertest: only tests drive a browser: internal/browsertest is for _test files"}},
		{"TestsImportBrowsertest", map[string][]string{
			m + "/edge/web": {"net/http"},
			m + "/edge/web_test [" + m + "/edge/web.test]":                         {m + "/edge/web", m + "/internal/browsertest"},
			m + "/cmd/pantry [" + m + "/cmd/pantry.test]":                          {m + "/edge", m + "/internal/browsertest"},
			m + "/internal/browsertest":                                            {"github.com/chromedp/chromedp"},
			m + "/internal/browsertest_test [" + m + "/internal/browsertest.test]": {m + "/internal/browsertest"},
		}, nil},
		{"SiblingSharingAPrefix", map[string][]string{
			m + "/edgeproxy": {m + "/cloud"},
			m + "/edge/web":  {"github.com/jackc/pgxlisten"},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			violations, _ := check(m, graph(tt.graph), rules(m))
			var got []string
			for _, v := range violations {
				got = append(got, v.String())
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("violations:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}

// TestCheckCountsPackages: the count is what tells "no cloud packages yet"
// (skip, logged) from "cloud packages, all clean" (pass).
func TestCheckCountsPackages(t *testing.T) {
	const m = "example.com/m"
	_, matched := check(m, graph(map[string][]string{
		m + "/edge":        {m + "/edge/sqlite"},
		m + "/edge/sqlite": nil,
		m + "/edge/sqlite [" + m + "/edge/sqlite.test]": nil,
		m + "/internal/pantry":                          nil,
	}), rules(m))
	want := map[string]int{"edge/": 2, "internal/pantry/": 1, "./...": 3}
	for _, scope := range []string{"edge/", "cloud/", "cloud", "syncproto/", "internal/pantry/", "cloud/api/", "./..."} {
		if got, want := matched[scope], want[scope]; got != want {
			t.Errorf("matched[%s]=%d, want %d", scope, got, want)
		}
	}
}

// graph lists the packages of an import graph as `go list -deps` would,
// with each package's transitive dependencies.
func graph(imports map[string][]string) []pkg {
	var deps func(p string, into map[string]bool)
	deps = func(p string, into map[string]bool) {
		for _, d := range imports[p] {
			if !into[d] {
				into[d] = true
				deps(d, into)
			}
		}
	}
	all := map[string]bool{}
	for p, is := range imports {
		all[p] = true
		for _, i := range is {
			all[i] = true
		}
	}
	var out []pkg
	for p := range all {
		into := map[string]bool{}
		deps(p, into)
		out = append(out, pkg{ImportPath: p, Imports: imports[p], Deps: sortedKeys(into)})
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
