package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/pantry/pantry/edge/sqlite"
)

// FailFree is the free space on the data disk below which doctor fails:
// where new orders are at risk of refusal. The node lets its WAL keep up
// to 64 MiB between checkpoints (journal_size_limit in edge/sqlite), and a
// busy spell writes that much before a checkpoint copies it into the
// database, which grows by as much again; once the disk cannot take the
// next page SQLite answers SQLITE_FULL and the node refuses the order
// (sync invariant 9). Below one WAL's worth, a lunch rush can get there.
const FailFree = 64 << 20

// WALWarn is the WAL size above which doctor warns: the size the node
// cuts its WAL back to (journal_size_limit). Checkpointed every 250 ms, a
// healthy node's WAL stays far below it; a bigger one means a reader has
// held a snapshot open long enough to stop checkpoints.
const WALWarn = 64 << 20

// nodeFiles are the files of a data directory the node must be able to
// write: the database with its WAL and shared memory, the demo's
// description and the lock a serving node holds.
var nodeFiles = []string{sqlite.FileName, sqlite.FileName + "-wal", sqlite.FileName + "-shm", sqlite.FileName + "-journal", "demo.json", "pantry.lock"}

// files checks the data directory (owner, permissions) and the disk it is on.
func (d *doctor) files(ctx context.Context) {
	dir := d.cfg.DataDir
	where := "pass --data with the node's data directory (PANTRY_DATA; /var/lib/pantry under the systemd unit)"
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.add("data-dir", Fail, dir+" does not exist", where)
		return
	case err != nil:
		d.add("data-dir", Fail, fmt.Sprintf("cannot look at %s: %v", dir, err), "run doctor as root or as the node's user")
		return
	case !info.IsDir():
		d.add("data-dir", Fail, dir+" is not a directory", where)
		return
	}
	defer d.disk(dir) // after the data-dir line
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); err != nil {
		d.add("data-dir", Fail, fmt.Sprintf("no %s in %s: not an edge node's data directory", sqlite.FileName, dir),
			where+"; a new node starts with `pantry edge init` or `pantry edge serve --demo`")
		return
	}
	d.dirOK = true
	d.ownership(dir, info)
}

// ownership checks that one user owns the directory and the node's files
// in it and may write them: the classic failure is a -wal file created by
// root (a tool run with sudo) that the service user cannot open.
func (d *doctor) ownership(dir string, info fs.FileInfo) {
	owner, ok := uid(info)
	if !ok {
		d.ok("data-dir", dir+" exists (owners not checked on this system)")
		return
	}
	files := []ownedFile{{dir, owner, info.Mode().Perm() | fs.ModeDir}}
	for _, f := range nodeFiles {
		if fi, err := os.Lstat(filepath.Join(dir, f)); err == nil {
			u, _ := uid(fi)
			files = append(files, ownedFile{f, u, fi.Mode().Perm()})
		}
	}
	d.add(judgeOwnership(files, os.Geteuid(), userName))
}

// ownedFile is the owner and mode of the data directory (first) or one
// of the node's files in it.
type ownedFile struct {
	name string
	uid  int
	mode fs.FileMode
}

// judgeOwnership is ownership's verdict on files (the directory first)
// for doctor running as euid; name names a uid.
func judgeOwnership(files []ownedFile, euid int, name func(int) string) (string, Status, string, string) {
	dir, owner := files[0].name, name(files[0].uid)
	var wrong, readOnly []string
	if files[0].mode&0o300 != 0o300 {
		readOnly = append(readOnly, dir)
	}
	for _, f := range files[1:] {
		if f.uid != files[0].uid {
			wrong = append(wrong, fmt.Sprintf("%s (owned by %s)", f.name, name(f.uid)))
		}
		if f.mode&0o200 == 0 {
			readOnly = append(readOnly, f.name)
		}
	}
	switch {
	case len(wrong) > 0:
		return "data-dir", Fail, fmt.Sprintf("%s belongs to %s but %s: the node cannot write them", dir, owner, strings.Join(wrong, ", ")),
			fmt.Sprintf("stop the node, chown %s %s/*, start it again; run tools as %s (sudo -u %s pantry …)", owner, dir, owner, owner)
	case len(readOnly) > 0:
		return "data-dir", Fail, fmt.Sprintf("%s cannot be written by its owner %s", strings.Join(readOnly, ", "), owner),
			fmt.Sprintf("chmod u+rwx %s; chmod u+rw %s/*", dir, dir)
	case euid != 0 && euid != files[0].uid:
		return "data-dir", Warn, fmt.Sprintf("%s belongs to %s, but doctor runs as %s: it may not read everything", dir, owner, name(euid)),
			fmt.Sprintf("run it as the node's user: sudo -u %s pantry edge doctor", owner)
	}
	return "data-dir", OK, fmt.Sprintf("%s and the node's files in it belong to %s and are writable", dir, owner), ""
}

func uid(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

func userName(id int) string {
	if u, err := user.LookupId(strconv.Itoa(id)); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(id)
}

// disk checks the free space of the data directory's file system.
func (d *doctor) disk(dir string) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		d.add("disk-space", Warn, fmt.Sprintf("cannot read the free space of %s: %v", dir, err), "check it with df -h "+dir)
		return
	}
	// Bavail, not Bfree: the blocks reserved for root are not the
	// service user's to use.
	free, size := st.Bavail*uint64(st.Bsize), st.Blocks*uint64(st.Bsize)
	readOnly := st.Flags&stRDONLY != 0
	status, verdict, fix := diskVerdict(free, size, d.cfg.MinFree, readOnly)
	d.add("disk-space", status, verdict, fix)
}

// stRDONLY is ST_RDONLY, the read-only mount flag statfs reports.
const stRDONLY = 1

// diskVerdict judges free of size bytes on the data disk against the
// --min-free floor (warn) and FailFree (fail).
func diskVerdict(free, size, minFree uint64, readOnly bool) (Status, string, string) {
	clean := "free space on that disk (old logs: journalctl --vacuum-size=200M; old backups), or move --data to a bigger one"
	switch {
	case readOnly:
		return Fail, "the data disk is mounted read-only: the node refuses every order", "remount it read-write, and look in dmesg for the disk errors that made the kernel remount it"
	case free < FailFree:
		return Fail, fmt.Sprintf("only %s free: the node refuses orders once SQLite cannot grow its files (under %s a busy spell can get there)", bytes(free), bytes(FailFree)), clean
	case free < minFree:
		return Warn, fmt.Sprintf("%s free, under the %s floor (--min-free)", bytes(free), bytes(minFree)), clean
	}
	pct := 0.0
	if size > 0 {
		pct = float64(free) / float64(size) * 100
	}
	return OK, fmt.Sprintf("%s free of %s (%.0f%%)", bytes(free), bytes(size), pct), ""
}

// bytes formats n in binary units, as df -h does.
func bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// ParseBytes reads a size such as "1GiB", "500MiB", "2G" or "1048576"
// (binary units; K, M, G, T with or without "iB"; a plain number is bytes).
func ParseBytes(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "i")
	mult := uint64(1)
	if t != "" {
		if i := strings.IndexByte("KMGT", upper(t[len(t)-1])); i >= 0 {
			mult = 1 << (10 * (i + 1))
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || n < 0 || n*float64(mult) > 1<<62 || t == "" {
		return 0, fmt.Errorf("%q is not a size: write it like 1GiB, 500MiB or 1048576", s)
	}
	return uint64(n * float64(mult)), nil
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// database opens the database read-only and checks its integrity. It
// returns the open database, or nil if it cannot be read.
func (d *doctor) database(ctx context.Context) *sqlite.Reader {
	check := "quick_check"
	if d.cfg.Full {
		check = "integrity_check"
	}
	path := filepath.Join(d.cfg.DataDir, sqlite.FileName)
	if f, err := os.Open(path); err != nil {
		d.add("database", Fail, fmt.Sprintf("cannot read %s: %v", path, err), "run doctor as root or as the node's user")
		return nil
	} else {
		f.Close()
	}
	db, err := sqlite.OpenReader(ctx, d.cfg.DataDir)
	if err != nil {
		d.add("database", Fail, fmt.Sprintf("cannot open %s: %v", path, err), "the file may be damaged: stop the node and keep a copy of the data directory before anything else")
		return nil
	}
	problems, err := db.IntegrityCheck(ctx, d.cfg.Full)
	if err != nil {
		d.add("database", Fail, fmt.Sprintf("%s could not run: %v", check, err), "run doctor as root or as the node's user, and again with --full")
		db.Close()
		return nil
	}
	if len(problems) > 0 {
		d.add("database", Fail, fmt.Sprintf("%s found %s is damaged: %s", check, path, strings.Join(first(problems, 3), "; ")),
			"stop the node (systemctl stop pantry-edge), copy the data directory aside, then restore the last good copy of it; "+
				"an enrolled node can instead be enrolled afresh into an empty --data with `pantry edge init`, losing the events the cloud has not acknowledged")
		db.Close()
		return nil
	}
	d.ok("database", fmt.Sprintf("%s: %s is sound", check, path))
	return db
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
}

// wal reports the size of the database's write-ahead log.
func (d *doctor) wal(running bool) {
	if !d.dirOK {
		return
	}
	fi, err := os.Stat(filepath.Join(d.cfg.DataDir, sqlite.FileName+"-wal"))
	switch {
	case err != nil && running:
		d.ok("wal", "no WAL file")
	case err != nil:
		d.ok("wal", "no WAL file: the node stopped cleanly, with everything checkpointed into the database")
	case !running && fi.Size() > 0:
		d.ok("wal", fmt.Sprintf("%s of WAL left by a node that did not stop cleanly: the next start recovers it, nothing is lost", bytes(uint64(fi.Size()))))
	case fi.Size() > WALWarn:
		d.add("wal", Warn, fmt.Sprintf("the WAL is %s, over the %s the node keeps: checkpoints are held up", bytes(uint64(fi.Size())), bytes(WALWarn)),
			"a reader holds the database open (a long `pantry edge outbox`, an sqlite3 shell): end it; restarting the node checkpoints the WAL")
	default:
		d.ok("wal", fmt.Sprintf("the WAL is %s (checkpointed every 250 ms)", bytes(uint64(fi.Size()))))
	}
}
