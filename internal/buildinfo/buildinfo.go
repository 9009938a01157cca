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
