package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/pantry/pantry/syncproto"
)

// TestVersion: `pantry version --json` of the real binary names the sync
// protocol it speaks, and a commit and date when the build recorded them
// (go build records them unless -buildvcs=false, as GOFLAGS may say), in
// step with the version it prints.
func TestVersion(t *testing.T) {
	out, err := exec.Command(buildPantry(t), "version", "--json").Output()
	if err != nil {
		t.Fatalf("pantry version --json: %v", err)
	}
	var v versionInfo
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("pantry version --json: %v\n%s", err, out)
	}
	if v.Protocol != syncproto.Version || v.MinProtocol != syncproto.MinVersion || v.Capability != syncproto.Capability {
		t.Fatalf("protocol %d (from %d), capability %d; want %d (from %d), %d",
			v.Protocol, v.MinProtocol, v.Capability, syncproto.Version, syncproto.MinVersion, syncproto.Capability)
	}
	if !strings.HasPrefix(v.Go, "go1.") {
		t.Fatalf("go = %q", v.Go)
	}
	switch {
	case v.Commit == "":
		if v.Version != "devel" || v.Date != "" {
			t.Fatalf("no commit recorded, yet version %q and date %q", v.Version, v.Date)
		}
	case !regexp.MustCompile(`^[0-9a-f]{40}(\+dirty)?$`).MatchString(v.Commit):
		t.Fatalf("commit = %q, want 40 hex digits", v.Commit)
	case !strings.Contains(v.Version, v.Commit[:12]):
		t.Fatalf("version %q does not name commit %s", v.Version, v.Commit)
	case !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(v.Date):
		t.Fatalf("date = %q, want RFC 3339 UTC", v.Date)
	}

	text, err := pantryCLI(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	proto := fmt.Sprintf("protocol  %d (accepts %d to %d), capability %d\n", syncproto.Version, syncproto.MinVersion, syncproto.Version, syncproto.Capability)
	for _, want := range []string{"pantry devel\n", proto} {
		if !strings.Contains(text, want) {
			t.Fatalf("pantry version lacks %q:\n%s", want, text)
		}
	}
	if _, err := pantryCLI(t, "version", "extra"); err == nil {
		t.Fatal("pantry version took an argument")
	}
}
