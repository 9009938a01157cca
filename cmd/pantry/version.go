package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/pantry/pantry/internal/buildinfo"
	"github.com/pantry/pantry/syncproto"
)

// versionInfo is what `pantry version` prints: enough to tell two builds
// apart and to know which edges and clouds speak to each other.
type versionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Date    string `json:"date"`
	Go      string `json:"go"`
	// Protocol is the sync protocol version this build speaks (it accepts
	// MinProtocol and later), Capability the newest optional field it
	// decodes (syncproto/capability.go).
	Protocol    int `json:"protocol"`
	MinProtocol int `json:"min_protocol"`
	Capability  int `json:"capability"`
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and sync protocol version",
		Long: "Print this binary's version (its module version, else the commit it was built from), the\n" +
			"commit and its date, the Go release, and the sync protocol version and capability it speaks.\n" +
			"An edge and a cloud work together when the cloud's protocol range covers the edge's.\n\n" +
			"Exit codes: 0, or 1 when the output cannot be written.",
		Args: cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.RunE = func(*cobra.Command, []string) error {
		v := versionInfo{
			Version: buildinfo.Version(), Commit: buildinfo.Commit(), Date: buildinfo.Date(), Go: runtime.Version(),
			Protocol: syncproto.Version, MinProtocol: syncproto.MinVersion, Capability: syncproto.Capability,
		}
		if asJSON {
			return json.NewEncoder(stdout).Encode(v)
		}
		_, err := fmt.Fprintf(stdout, "pantry %s\ncommit    %s\ndate      %s\ngo        %s\nprotocol  %d (accepts %d to %d), capability %d\n",
			v.Version, orUnknown(v.Commit), orUnknown(v.Date), v.Go, v.Protocol, v.MinProtocol, v.Protocol, v.Capability)
		return err
	}
	return cmd
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown (not recorded in this build)"
	}
	return s
}
