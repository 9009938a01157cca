package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/sqlite"
)

// Errors of Restore, besides edge.ErrNodeRunning (the node runs) and
// sqlite.ErrInvalidDatabase (the file is not a usable backup).
var (
	// ErrOtherNode: the backup is another node's than the data
	// directory's (of the same site); Force restores it anyway.
	ErrOtherNode = errors.New("the backup is another node's")
	// ErrOtherSite: the backup is of another site or organization than
	// the data directory's. Nothing restores it there.
	ErrOtherSite = errors.New("the backup is another site's")
)

// RestoreOptions say which backup to put into which data directory.
type RestoreOptions struct {
	DataDir string
	From    string
	// Force restores a backup of another node of the same site, whose
	// outbox this directory's does not carry on (see Restore).
	Force bool
	Now   func() time.Time
}

// RestoreResult is what Restore did.
type RestoreResult struct {
	From string `json:"from"`
	Gzip bool   `json:"gzip"`
	// Backup is what the backup held.
	Backup sqlite.DatabaseInfo `json:"backup"`
	// NodeID and SiteID are the identity the restored node runs as.
	NodeID string `json:"node_id,omitempty"`
	SiteID string `json:"site_id,omitempty"`
	// KeptIdentity: the directory was enrolled again since the backup
	// and carries on its outbox, so it keeps its newer identity.
	KeptIdentity bool `json:"kept_identity"`
	// Forced: a backup of another node was restored with Force.
	Forced bool `json:"forced"`
	// Replaced is where the database it replaced went ("" if there was
	// none); Unreadable says that database could not be read to compare
	// identities (a damaged database is a reason to restore).
	Replaced   string `json:"replaced,omitempty"`
	Unreadable bool   `json:"replaced_unreadable,omitempty"`
	// Pending: the node learns the cloud's watermark before it pushes
	// again; RestoredHead is the outbox head that renumbering starts
	// after.
	Pending      bool  `json:"restore_pending"`
	RestoredHead int64 `json:"restored_head,omitempty"`
}

// dbFiles are a database and the files SQLite keeps beside it.
var dbFiles = []string{sqlite.FileName, sqlite.FileName + "-wal", sqlite.FileName + "-shm"}

// Restore puts the backup opts.From into opts.DataDir as the node's
// database. It refuses while a node runs on the directory (it holds the
// directory's lock meanwhile, so none starts), and it checks the backup
// before anything in the directory changes: gzip or not (by its first
// bytes), SQLite's integrity check, Pantry's tables, a schema this build
// can migrate. It then compares identities with the database there:
//
//   - none, or one not enrolled: the backup goes in;
//   - the same node: the backup goes in;
//   - another site or organization: refused, whatever Force says;
//   - another node of the same site whose outbox carries on the backup's
//     (the directory was enrolled again after the backup): the backup
//     goes in, keeping the directory's newer identity, whose watermark
//     in the cloud counts the same outbox;
//   - another node of the same site otherwise (another box's data):
//     refused without Force; with it, the backup goes in as the backup's
//     node, which the cloud may have revoked since (then: pantry edge
//     init, which carries that node's watermark over).
//
// The backup is migrated and marked as restored (the outbox head to
// renumber after, sqlite.MarkRestored) in a staging directory beside the
// database; the database it replaces (with its WAL) is moved to
// DataDir/replaced-TIMESTAMP/, never deleted; then the staged file is
// renamed into place. A refused or failed restore leaves the directory as
// it was.
func Restore(ctx context.Context, opts RestoreOptions) (RestoreResult, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	from, err := filepath.Abs(opts.From)
	if err != nil {
		return RestoreResult{}, fmt.Errorf("restore: %w", err)
	}
	if fi, err := os.Stat(from); err != nil || !fi.Mode().IsRegular() {
		return RestoreResult{}, fmt.Errorf("%w at %s: pass --from with a file `pantry edge backup` wrote", ErrNoFile, opts.From)
	}
	lock, err := edge.LockDataDir(opts.DataDir)
	if err != nil {
		return RestoreResult{}, fmt.Errorf("restore: %w", err)
	}
	defer lock.Release()
	r := &restorer{opts: opts, res: RestoreResult{From: from}}
	if err := r.run(ctx); err != nil {
		return RestoreResult{}, fmt.Errorf("restore: %w", err)
	}
	return r.res, nil
}

// restorer is one restore under way.
type restorer struct {
	opts    RestoreOptions
	res     RestoreResult
	staging string // the staging directory, with the backup in it
}

func (r *restorer) run(ctx context.Context) error {
	if err := removeStaleStaging(r.opts.DataDir); err != nil {
		return err
	}
	staging, err := os.MkdirTemp(r.opts.DataDir, ".restore-")
	if err != nil {
		return fmt.Errorf("staging directory: %w", err)
	}
	r.staging = staging
	defer os.RemoveAll(staging)
	if err := r.stage(ctx); err != nil {
		return err
	}
	if err := r.prepare(ctx); err != nil {
		return err
	}
	return r.install()
}

// removeStaleStaging removes staging directories a crashed restore left.
// Only a restore makes them, and it holds the lock.
func removeStaleStaging(dir string) error {
	stale, err := filepath.Glob(filepath.Join(dir, ".restore-*"))
	if err != nil {
		return err
	}
	for _, s := range stale {
		if err := os.RemoveAll(s); err != nil {
			return fmt.Errorf("remove a crashed restore's %s: %w", s, err)
		}
	}
	return nil
}

// stage copies the backup into the staging directory, inflating it if
// it is gzipped, and checks it.
func (r *restorer) stage(ctx context.Context) error {
	gz, err := isGzip(r.res.From)
	if err != nil {
		return fmt.Errorf("read %s: %w", r.res.From, err)
	}
	r.res.Gzip = gz
	staged := filepath.Join(r.staging, sqlite.FileName)
	if err := copyTo(ctx, staged, r.res.From, gz); err != nil {
		return fmt.Errorf("copy %s: %w", r.res.From, err)
	}
	r.res.Backup, err = sqlite.Inspect(ctx, staged)
	return err
}

// prepare opens the staged backup as a store (migrating it to this
// build's schema), decides whose identity it runs as, and records the
// restore in it.
func (r *restorer) prepare(ctx context.Context) error {
	store, err := sqlite.Open(ctx, r.staging, sqlite.Options{Now: r.opts.Now})
	if err != nil {
		return fmt.Errorf("%w: it cannot be brought to this version's schema: %v", sqlite.ErrInvalidDatabase, err)
	}
	keep, err := r.decide(ctx, store)
	if err == nil {
		var st sqlite.RestoreState
		st, err = store.MarkRestored(ctx, sqlite.RestoreMark{At: r.opts.Now().UTC(), From: r.res.From, Identity: keep})
		r.res.Pending, r.res.RestoredHead = st.Pending, st.Head
	}
	if err == nil {
		var id sqlite.Identity
		id, _, err = store.Identity(ctx)
		r.res.NodeID, r.res.SiteID = id.NodeID, id.SiteID
	}
	if cerr := store.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close the staged backup: %w", cerr)
	}
	return err
}

// decide compares the backup's identity with the data directory's (see
// Restore) and returns the identity to keep instead of the backup's, if
// any.
func (r *restorer) decide(ctx context.Context, staged *sqlite.Store) (*sqlite.Identity, error) {
	current := filepath.Join(r.opts.DataDir, sqlite.FileName)
	if _, err := os.Stat(current); err != nil {
		return nil, nil
	}
	cur, enrolled, err := sqlite.ReadIdentity(ctx, current)
	if err != nil {
		r.res.Unreadable = true // damaged: the backup is the way back
		return nil, nil
	}
	b := r.res.Backup
	switch {
	case !enrolled || cur.NodeID == b.NodeID:
		return nil, nil
	case !b.Enrolled:
		return nil, r.forced(fmt.Errorf("%w: the backup is of a node that is not enrolled (a demo), this directory is node %s of site %s",
			ErrOtherNode, cur.NodeID, cur.SiteID))
	case cur.OrgID != b.Identity.OrgID || cur.SiteID != b.SiteID:
		return nil, fmt.Errorf("%w: the backup is of site %s, this directory runs site %s: restore it into an empty data directory to run that site",
			ErrOtherSite, b.SiteID, cur.SiteID)
	}
	carries, err := carriesOn(ctx, staged, current)
	if err != nil {
		return nil, err
	}
	if carries {
		r.res.KeptIdentity = true
		return &cur, nil
	}
	return nil, r.forced(fmt.Errorf("%w: the backup is of node %s, this directory is node %s of the same site, with another outbox",
		ErrOtherNode, b.NodeID, cur.NodeID))
}

// forced lets a refusal of another node's backup through with Force.
func (r *restorer) forced(err error) error {
	if !r.opts.Force {
		return fmt.Errorf("%w; pass --force to restore it anyway: the node then runs as the backup's node (if the cloud revoked it, enroll again with pantry edge init)", err)
	}
	r.res.Forced = true
	return nil
}

// carriesOn reports whether the database at current carries on the
// staged backup's outbox: it holds the backup's newest settled event at
// the same seq.
func carriesOn(ctx context.Context, staged *sqlite.Store, current string) (bool, error) {
	seq, id, ok, err := staged.OutboxAnchor(ctx)
	if err != nil || !ok {
		return !ok, err
	}
	got, err := sqlite.OutboxEventID(ctx, current, seq)
	if err != nil {
		return false, err
	}
	return got == id, nil
}

// install moves the current database aside and the staged one into its
// place.
func (r *restorer) install() error {
	dir := r.opts.DataDir
	aside, err := r.moveAside()
	if err != nil {
		return err
	}
	r.res.Replaced = aside
	if err := moveFiles(r.staging, dir); err != nil {
		if aside != "" {
			if back := moveFiles(aside, dir); back != nil {
				return fmt.Errorf("install the backup: %w (and the replaced database could not be put back from %s: %v)", err, aside, back)
			}
		}
		return fmt.Errorf("install the backup: %w", err)
	}
	if r.res.Backup.Enrolled {
		// It holds the node's credential, as edge init keeps it.
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("make %s private: %w", dir, err)
		}
	}
	return syncDir(dir)
}

// moveAside moves the data directory's database files into a new
// replaced-TIMESTAMP directory and returns it ("" when there were none).
func (r *restorer) moveAside() (string, error) {
	dir := r.opts.DataDir
	var present bool
	for _, name := range dbFiles {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			present = true
		}
	}
	if !present {
		return "", nil
	}
	base := filepath.Join(dir, "replaced-"+r.opts.Now().UTC().Format("20060102T150405Z"))
	aside := base
	for i := 2; ; i++ {
		err := os.Mkdir(aside, 0o700)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("set the replaced database aside: %w", err)
		}
		aside = fmt.Sprintf("%s-%d", base, i)
	}
	if err := moveFiles(dir, aside); err != nil {
		return "", fmt.Errorf("set the replaced database aside: %w", err)
	}
	return aside, syncDir(aside)
}

// moveFiles renames the database files present in from into to.
func moveFiles(from, to string) error {
	for _, name := range dbFiles {
		src := filepath.Join(from, name)
		if _, err := os.Lstat(src); err != nil {
			continue
		}
		if err := os.Rename(src, filepath.Join(to, name)); err != nil {
			return err
		}
	}
	return syncDir(from)
}
