package loadgen

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ProcessStats is what Linux's /proc says about a process.
type ProcessStats struct {
	RSSBytes     int64         // VmRSS: resident now
	PeakRSSBytes int64         // VmHWM: the most it has been resident
	OpenFiles    int           // entries in /proc/{pid}/fd
	CPU          time.Duration // user plus system time so far
}

// clockTicks is Linux's USER_HZ, the unit of /proc/{pid}/stat's times: 100
// on every architecture Go supports (sysconf would need cgo to ask).
const clockTicks = 100

// ReadProcessStats reads pid's memory, open files and CPU time from /proc.
func ReadProcessStats(pid int) (ProcessStats, error) {
	var st ProcessStats
	dir := "/proc/" + strconv.Itoa(pid)
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return st, fmt.Errorf("read process %d status: %w", pid, err)
	}
	if st.RSSBytes, err = statusKiB(status, "VmRSS:"); err != nil {
		return st, fmt.Errorf("process %d: %w", pid, err)
	}
	if st.PeakRSSBytes, err = statusKiB(status, "VmHWM:"); err != nil {
		return st, fmt.Errorf("process %d: %w", pid, err)
	}
	fds, err := os.ReadDir(dir + "/fd")
	if err != nil {
		return st, fmt.Errorf("list process %d files: %w", pid, err)
	}
	st.OpenFiles = len(fds)
	if st.CPU, err = cpuTime(dir + "/stat"); err != nil {
		return st, fmt.Errorf("process %d: %w", pid, err)
	}
	return st, nil
}

// statusKiB returns the "NAME: N kB" line of a /proc status file in bytes.
func statusKiB(status []byte, name string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name)
		if !ok {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse %s %q: %w", name, rest, err)
		}
		return kib << 10, nil
	}
	return 0, fmt.Errorf("no %s line", name)
}

// cpuTime returns utime plus stime from a /proc/{pid}/stat file. The
// fields are counted after the command name's closing parenthesis, since
// the name may hold spaces.
func cpuTime(path string) (time.Duration, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse %s: no command name", path)
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("parse %s: %d fields", path, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] { // utime and stime, fields 14 and 15 of the whole line
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse %s: %w", path, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
