package edge

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFileName is the data directory's lock file. A running node (New
// until Close) holds an exclusive flock on it, so that a restore, which
// replaces the database under it, can tell that the node runs and refuse.
// The kernel drops the lock with the process, so a node that crashed or
// was killed leaves nothing to clean up: the file stays, unlocked.
const LockFileName = "pantry.lock"

// ErrNodeRunning is what a NodeRunningError is.
var ErrNodeRunning = errors.New("an edge node is running on this data directory")

// NodeRunningError says that a process holds a data directory's lock.
type NodeRunningError struct {
	Dir string
	// PID is the process that holds it, as it wrote in the file (0 if
	// unknown).
	PID int
}

func (e *NodeRunningError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("data directory %s is in use by %s (a running edge node, or a restore under way): stop it first (systemctl stop, or Ctrl-C in its terminal)",
		e.Dir, who)
}

// Is makes errors.Is(err, ErrNodeRunning) true.
func (e *NodeRunningError) Is(target error) bool { return target == ErrNodeRunning }

// DataDirLock is a held data directory lock.
type DataDirLock struct{ f *os.File }

// LockDataDir takes dir's lock, creating dir (mode 0750, as the store
// does) and the lock file if need be, and writes this process's id in
// it for whoever finds it held. If another process holds it, the error
// is a *NodeRunningError. Release it when done.
func LockDataDir(dir string) (*DataDirLock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, LockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &NodeRunningError{Dir: dir, PID: lockHolder(dir)}
		}
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	// The id is for messages only: a failure to write it loses nothing.
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &DataDirLock{f: f}, nil
}

// Release gives the lock up. Calling it again, or on nil, does nothing.
func (l *DataDirLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	// Closing the file drops the flock; the file stays for the next node.
	if err := f.Close(); err != nil {
		return fmt.Errorf("release data directory lock: %w", err)
	}
	return nil
}

// lockDataDir is LockDataDir for New: a directory that cannot be made or
// locked is one sentence a technician can act on.
func lockDataDir(dir string) (*DataDirLock, error) {
	l, err := LockDataDir(dir)
	if err != nil && !errors.Is(err, ErrNodeRunning) {
		return nil, fmt.Errorf("data directory %s cannot be used (%v); choose another with --data or fix its permissions", dir, err)
	}
	return l, err
}

// lockHolder reads the process id a lock's holder wrote (0 if none).
func lockHolder(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, LockFileName))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}
