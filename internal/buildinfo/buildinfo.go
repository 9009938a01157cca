// Package buildinfo names the build that is running, for edge nodes to
// report to the cloud and admins to read in the node list.
package buildinfo

import (
	"runtime/debug"
	"sync"
)

// Version is the module version of a released build, else the VCS
// revision it was built from (12 hex digits, "+dirty" when the tree had
// changes), else "devel".
var Version = sync.OnceValue(func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "devel"
	}
	return rev + dirty
})

// Commit is the full VCS revision the binary was built from, with
// "+dirty" when the tree had changes; "" when the build did not record it
// (go test, go run, a build outside a checkout).
var Commit = sync.OnceValue(func() string {
	rev, dirty := setting("vcs.revision"), setting("vcs.modified") == "true"
	if rev != "" && dirty {
		rev += "+dirty"
	}
	return rev
})

// Date is when the commit was made (vcs.time, RFC 3339, UTC), which a
// reproducible build stamps instead of the time it ran; "" when unknown.
var Date = sync.OnceValue(func() string { return setting("vcs.time") })

func setting(key string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}
