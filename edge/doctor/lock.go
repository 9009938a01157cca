package doctor

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/pantry/pantry/edge"
)

// lockState is whether a node holds the data directory's lock.
type lockState struct {
	known bool // false: this system does not say (no /proc/locks)
	held  bool
	pid   int // the holder, when held
}

// procLocks is the kernel's list of file locks.
const procLocks = "/proc/locks"

// dataDirLock tells whether a node holds dir's lock (edge.LockFileName),
// without taking it: a lock taken even for a moment could make a node
// starting at that moment refuse to run. It reads the kernel's list of
// locks instead, which names the locked file by device and inode.
func dataDirLock(dir string) lockState {
	fi, err := os.Stat(filepath.Join(dir, edge.LockFileName))
	if err != nil {
		// No lock file: no node of this version has ever run here, or
		// one predates the lock. Say nothing either way.
		return lockState{}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return lockState{}
	}
	f, err := os.Open(procLocks)
	if err != nil {
		return lockState{}
	}
	defer f.Close()
	want := fmt.Sprintf("%02x:%02x:%d", devMajor(uint64(st.Dev)), devMinor(uint64(st.Dev)), st.Ino)
	s := bufio.NewScanner(f)
	for s.Scan() {
		if pid, ok := flockOn(s.Text(), want); ok {
			return lockState{known: true, held: true, pid: pid}
		}
	}
	if s.Err() != nil {
		return lockState{}
	}
	return lockState{known: true}
}

// flockOn reads one line of /proc/locks, such as
//
//	3: FLOCK  ADVISORY  WRITE 4321 08:01:1234567 0 EOF
//
// and returns the holder's pid if it is a granted flock on the file
// named MAJOR:MINOR:INODE by file (a waiter's line has "->" after the
// number).
func flockOn(line, file string) (int, bool) {
	f := strings.Fields(line)
	if len(f) < 6 || f[1] != "FLOCK" || f[5] != file {
		return 0, false
	}
	pid, err := strconv.Atoi(f[4])
	return pid, err == nil
}

// devMajor and devMinor split a Linux device number as the kernel's
// new_encode_dev does.
func devMajor(dev uint64) uint64 { return (dev>>8)&0xfff | (dev>>32)&^0xfff }
func devMinor(dev uint64) uint64 { return dev&0xff | (dev>>12)&^0xff }
