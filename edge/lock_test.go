package edge_test

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/edgetest"
)

// TestDataDirLock: a running node holds its data directory's lock, which
// anyone else asking for it is refused with the node's process id; a
// second node on the same directory, and an enrollment, are refused
// before they open anything;
// the lock is free again once the node stops.
func TestDataDirLock(t *testing.T) {
	n := edgetest.Start(t)
	_, err := edge.LockDataDir(n.Dir)
	var running *edge.NodeRunningError
	if !errors.As(err, &running) || !errors.Is(err, edge.ErrNodeRunning) || running.PID != os.Getpid() {
		t.Fatalf("lock of a running node's directory: %v, want a NodeRunningError naming process %d", err, os.Getpid())
	}
	if !strings.Contains(err.Error(), "stop it first") {
		t.Fatalf("the refusal does not say what to do: %v", err)
	}
	_, err = edge.New(t.Context(), edge.Config{DataDir: n.Dir, HTTPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		Demo: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if !errors.Is(err, edge.ErrNodeRunning) {
		t.Fatalf("a second node on the same directory: %v, want ErrNodeRunning", err)
	}
	// pantry edge init on a running node would replace the credential and
	// configuration under it.
	_, err = edge.Enroll(t.Context(), edge.EnrollConfig{DataDir: n.Dir, CloudURL: "http://127.0.0.1:1", Token: "enroll-token"})
	if !errors.Is(err, edge.ErrNodeRunning) || !strings.Contains(err.Error(), "stop it first") {
		t.Fatalf("enrolling a running node's directory: %v, want ErrNodeRunning", err)
	}
	n.Stop(t)
	l, err := edge.LockDataDir(n.Dir)
	if err != nil {
		t.Fatalf("lock after the node stopped: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("a second release: %v", err)
	}
}

// TestDataDirLockUnusableDir: a data directory that cannot be made is
// refused with the path, not a lock-file riddle.
func TestDataDirLockUnusableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	_, err := edge.New(t.Context(), edge.Config{DataDir: filepath.Join(file, "data"), HTTPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0", Demo: true})
	if err == nil || !strings.Contains(err.Error(), "cannot be used") || errors.Is(err, edge.ErrNodeRunning) {
		t.Fatalf("error %v, want one saying the directory cannot be used", err)
	}
}
