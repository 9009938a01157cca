// Package sqlite is the edge node's store: the site's whole working state and
// the transactional outbox, in one SQLite file (modernc.org/sqlite, no cgo).
//
// SQLite has one writer. All writes go through a single goroutine that owns the
// only write connection and commits them in groups: each request runs inside
// its own SAVEPOINT of a shared transaction, so one order failing (out of
// stock) rolls back only itself, and one fsync covers the whole group. Reads
// use a separate pool of read-only connections, which WAL lets run while the
// writer writes.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"

	"github.com/pantry/pantry/internal/pantry"
)

// Options tune a Store. The zero value is usable.
type Options struct {
	// Now is the clock; tests inject one so expiry needs no sleeping.
	Now func() time.Time
	// MaxBatch caps how many write requests share one transaction.
	MaxBatch int
	// CheckpointEvery is how often the WAL is checkpointed (default 250 ms:
	// small, frequent checkpoints disturb commits least).
	CheckpointEvery time.Duration
}

// Store is the edge's SQLite store.
type Store struct {
	path     string
	onCommit atomic.Pointer[func()]
	w        *sql.DB // exactly one connection: SQLite has one writer
	wc       *wtx    // that connection, owned by the writer goroutine
	ck       *sql.DB // one connection for background WAL checkpoints
	r        *sql.DB // read-only pool
	now      func() time.Time
	// compareHash checks a tablet's password (bcrypt's; a test counts
	// the comparisons a login makes).
	compareHash func(hash, password []byte) error

	maxBatch int
	ckEvery  time.Duration
	reqs     chan *writeReq
	stop     chan struct{}
	stopped  chan struct{}

	sessions         *sessionCache
	checkpointed     chan struct{} // closed when the checkpointer has stopped
	finishCheckpoint chan struct{} // the checkpointer asks the writer to finish
	closeOnce        sync.Once
	closeErr         error
}

type writeReq struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *wtx) error
	done chan error
}

// FileName is the database file inside the edge's data directory.
const FileName = "pantry.db"

// Open opens (creating if needed) the store in dir, applies migrations and
// starts the writer. Close it when done.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := checkWritable(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	s := &Store{
		path:        path,
		now:         opts.Now,
		compareHash: bcrypt.CompareHashAndPassword,
		maxBatch:    opts.MaxBatch,
		reqs:        make(chan *writeReq, 1024),
		stop:        make(chan struct{}),
		stopped:     make(chan struct{}),
		sessions:    newSessionCache(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBatch <= 0 {
		s.maxBatch = 128
	}
	if s.ckEvery = opts.CheckpointEvery; s.ckEvery <= 0 {
		s.ckEvery = 250 * time.Millisecond
	}
	var err error
	if s.w, err = sql.Open("sqlite", writeDSN(path)); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	if err := s.w.PingContext(ctx); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := migrate(ctx, s.w); err != nil {
		s.w.Close()
		return nil, err
	}
	conn, err := s.w.Conn(ctx)
	if err != nil {
		s.w.Close()
		return nil, fmt.Errorf("open store writer: %w", err)
	}
	s.wc = &wtx{conn: conn, stmts: map[string]*sql.Stmt{}}
	if s.r, err = sql.Open("sqlite", readDSN(path)); err != nil {
		s.wc.close()
		s.w.Close()
		return nil, fmt.Errorf("open store readers: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	if s.ck, err = sql.Open("sqlite", writeDSN(path)); err != nil {
		s.wc.close()
		s.r.Close()
		s.w.Close()
		return nil, fmt.Errorf("open store checkpointer: %w", err)
	}
	s.ck.SetMaxOpenConns(1)
	s.checkpointed = make(chan struct{})
	s.finishCheckpoint = make(chan struct{}, 1)
	go s.writer()
	go s.checkpoint()
	return s, nil
}

// writeDSN configures the single write connection.
//
//   - busy_timeout first, so the pragmas after it wait instead of failing.
//   - journal_mode=WAL: readers never block the writer and vice versa.
//   - synchronous=FULL: in WAL mode this fsyncs the WAL at every commit, so
//     an order that got its 201 survives power loss, not only kill -9 (NORMAL
//     would survive kill -9 but may lose the last commits on power loss).
//     Group commit pays for the fsync once per batch, not once per order.
//   - foreign_keys=1: SQLite leaves them off by default; an order line must
//     never point at an item that does not exist.
//   - temp_store=MEMORY: each request's SAVEPOINT journals the pages it
//     touches; in a temp file that was a third of the order path's time in
//     pwrite calls. The journal lives only as long as the transaction.
//   - wal_autocheckpoint=0: by default the commit that crosses 1000 WAL
//     pages also copies them into the database and fsyncs it, stalling
//     every order in that group (p99 went from 11 ms to 177 ms at 500
//     orders/s). A background checkpointer does it instead; see checkpoint.
//   - journal_size_limit=64 MiB: a WAL that grew during a burst is cut
//     back when it restarts, instead of keeping its high-water size.
//   - _txlock=immediate: take the write lock at BEGIN, so a transaction that
//     reads then writes cannot fail half-way with "database is locked".
//
// A file: URI is required: modernc drops the query string of a plain path.
func writeDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", "wal_autocheckpoint(0)")
	q.Add("_pragma", "journal_size_limit(67108864)")
	q.Add("_txlock", "immediate") // for the migrations; the writer says BEGIN IMMEDIATE itself
	return "file:" + path + "?" + q.Encode()
}

// readDSN configures the read pool: query_only so a bug cannot write around
// the writer goroutine.
func readDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "query_only(1)")
	return "file:" + path + "?" + q.Encode()
}

func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("data dir %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close stops the writer, waiting for queued writes, checkpoints the WAL
// into the database and closes it. Calling it again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.stopped
		<-s.checkpointed
		_, ckErr := s.ck.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		s.closeErr = errors.Join(ckErr, s.ck.Close(), s.wc.close(), s.r.Close(), s.w.Close())
	})
	return s.closeErr
}

// Ping checks that the store answers reads and the writer is running.
func (s *Store) Ping(ctx context.Context) error {
	select {
	case <-s.stopped:
		return errors.New("store is closed")
	default:
	}
	return s.r.PingContext(ctx)
}

// write runs fn in the writer's current group transaction, inside its own
// savepoint, and returns once the group is durably committed. fn's error
// rolls back only fn's own writes. fn runs with a context of the group, not
// of the caller: cancelling one caller must not interrupt the shared
// connection in the middle of another caller's statement.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, tx *wtx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.reqs <- req:
	case <-s.stop:
		return pantry.Errorf(pantry.EUNAVAILABLE, "the store is shutting down")
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, wait for the outcome even if ctx ends: the write may
	// already be committed, and the caller must not report it as failed.
	// The writer answers every request it takes before it stops; one queued
	// after it stopped is answered here.
	select {
	case err := <-req.done:
		return err
	case <-s.stopped:
		select {
		case err := <-req.done:
			return err
		default:
			return pantry.Errorf(pantry.EUNAVAILABLE, "the store is shutting down")
		}
	}
}

func (s *Store) writer() {
	defer close(s.stopped)
	batch := make([]*writeReq, 0, s.maxBatch)
	for {
		var first *writeReq
		select {
		case first = <-s.reqs:
		case <-s.finishCheckpoint:
			s.finishCheckpointNow()
			continue
		case <-s.stop:
			s.drain()
			return
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < s.maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.commitGroup(batch)
	}
}

// drain commits whatever was queued before Close began, so no caller that
// got into the queue is left without an answer.
func (s *Store) drain() {
	for {
		select {
		case r := <-s.reqs:
			s.commitGroup([]*writeReq{r})
		default:
			return
		}
	}
}

// OnCommit sets f to be called after every committed group of writes
// (nil: nothing). The sync worker uses it to push new outbox events at
// once; f must not block.
func (s *Store) OnCommit(f func()) { s.onCommit.Store(&f) }

func (s *Store) commitGroup(batch []*writeReq) {
	results := make([]error, len(batch))
	err := s.runGroup(batch, results)
	if f := s.onCommit.Load(); err == nil && f != nil && *f != nil {
		(*f)()
	}
	for i, r := range batch {
		if err != nil {
			r.done <- err
		} else {
			r.done <- results[i]
		}
	}
}

func (s *Store) runGroup(batch []*writeReq, results []error) error {
	ctx := context.Background() // a group outlives any one request's context
	tx := s.wc
	// The write connection is taken directly, so BEGIN IMMEDIATE is spelled
	// out: take the write lock now, not at the first write.
	if err := tx.raw(ctx, "BEGIN IMMEDIATE"); err != nil {
		return storageErr("begin", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.raw(ctx, "ROLLBACK")
		}
	}()
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if err := tx.raw(ctx, "SAVEPOINT w"); err != nil {
			return storageErr("savepoint", err)
		}
		if err := r.fn(ctx, tx); err != nil {
			results[i] = storageErr("write", err)
			if rbErr := tx.raw(ctx, "ROLLBACK TO w"); rbErr != nil {
				// On a full disk or an I/O error SQLite rolls the whole
				// transaction back by itself: nothing of this group is
				// committed, and everyone in it gets this request's error.
				return fmt.Errorf("%w (group rolled back: %v)", results[i], rbErr)
			}
		}
		if err := tx.raw(ctx, "RELEASE w"); err != nil {
			return storageErr("release savepoint", err)
		}
	}
	if err := tx.raw(ctx, "COMMIT"); err != nil {
		return storageErr("commit", err)
	}
	committed = true
	return nil
}

// storageErr turns a full or failing disk into a clear, coded refusal
// (DESIGN.md invariant 9: full disk is an answer, not a crash).
func storageErr(op string, err error) error {
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3lib.SQLITE_FULL:
			return fmt.Errorf("%s: %w: %w", op, pantry.Errorf(pantry.EUNAVAILABLE, "the edge node's disk is full; nothing was saved"), err)
		case sqlite3lib.SQLITE_IOERR, sqlite3lib.SQLITE_READONLY, sqlite3lib.SQLITE_CANTOPEN:
			return fmt.Errorf("%s: %w: %w", op, pantry.Errorf(pantry.EUNAVAILABLE, "the edge node cannot write to its disk; nothing was saved"), err)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}
