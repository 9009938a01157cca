package sqlite

import (
	"sync"

	"github.com/pantry/pantry/internal/pantry"
)

// sessionCache holds live sessions by token hash, so the attendee path
// checks its bearer token without a read transaction. Readers that are
// always active keep SQLite from restarting the WAL after a checkpoint
// (it grew to 1.5 GB under load, and checkpointing that backlog stalled
// commits); with the token check in memory, an order is one write and no
// read. A session only ever changes by expiring, which is a matter of
// time that every lookup checks, so an entry cannot go stale.
type sessionCache struct {
	mu sync.RWMutex
	m  map[[32]byte]pantry.Session
}

// sessionCacheMax bounds the cache; past it, it starts over (a building
// has hundreds of live sessions, not tens of thousands).
const sessionCacheMax = 50_000

func newSessionCache() *sessionCache {
	return &sessionCache{m: make(map[[32]byte]pantry.Session)}
}

func (c *sessionCache) get(hash []byte) (pantry.Session, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s, ok := c.m[[32]byte(hash)]
	return s, ok
}

func (c *sessionCache) put(hash []byte, s pantry.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= sessionCacheMax {
		clear(c.m)
	}
	c.m[[32]byte(hash)] = s
}

func (c *sessionCache) forget(hash []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, [32]byte(hash))
}
