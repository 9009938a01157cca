package pgtest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindBinaries(t *testing.T) {
	root := t.TempDir()
	install := func(dir string, programs ...string) string {
		bin := filepath.Join(root, dir)
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range programs {
			if err := os.WriteFile(filepath.Join(bin, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return bin
	}
	notInPath := func(string) (string, error) { return "", errors.New("not found") }
	glob := filepath.Join(root, "lib", "*", "bin")

	t.Run("Missing", func(t *testing.T) {
		_, err := findBinariesIn(notInPath, glob)
		if err == nil || !strings.Contains(err.Error(), "apt-get install postgresql") {
			t.Fatalf("error %v, want one that says what to install", err)
		}
	})
	install("lib/9/bin", "initdb", "postgres")
	install("lib/16/bin", "initdb") // incomplete: no postgres
	install("lib/15/bin", "initdb", "postgres")
	t.Run("HighestCompleteVersion", func(t *testing.T) {
		b, err := findBinariesIn(notInPath, glob)
		if err != nil || b.postgres != filepath.Join(root, "lib/15/bin/postgres") {
			t.Fatalf("found %+v, %v; want version 15's", b, err)
		}
	})
	t.Run("PathFirst", func(t *testing.T) {
		inPath := install("usr/bin", "initdb", "postgres")
		b, err := findBinariesIn(func(string) (string, error) { return filepath.Join(inPath, "initdb"), nil }, glob)
		if err != nil || b.initdb != filepath.Join(inPath, "initdb") {
			t.Fatalf("found %+v, %v; want the one in PATH", b, err)
		}
	})
}

// TestCitusMissing: a machine without Citus fails the tests that need it
// with what to run, not with a server log alone.
func TestCitusMissing(t *testing.T) {
	t.Parallel()
	srv, err := startCitusWith(t.Context(), "pantry_no_such_library")
	if err == nil {
		srv.admin.Close()
		_ = srv.citus.stop()
		t.Fatal("a Citus cluster started without its library")
	}
	if !strings.Contains(err.Error(), "../shared/citus/build.sh") {
		t.Fatalf("error %v, want it to say to run ../shared/citus/build.sh", err)
	}
}
