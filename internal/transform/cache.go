package transform

import (
	"container/list"
	"crypto/sha256"
	"sync"
)

// DefaultCacheSize is how many compiled programs a Cache keeps by default. A
// compiled program is tens of kilobytes at most (sources are bounded by
// MaxSourceLen), so the default costs a few megabytes at worst.
const DefaultCacheSize = 256

// Key names a program: the SHA-256 of its text. A worker keeps its compiled
// programs by key, so the text is compiled once per worker whichever
// endpoints share it.
type Key [sha256.Size]byte

// KeyOf is the key of a program's text.
func KeyOf(src string) Key { return sha256.Sum256([]byte(src)) }

// Cache keeps the most recently used compiled programs, keyed by the hash of
// their text, so that each endpoint configuration is compiled once and
// endpoints with the same program share it. It is safe for concurrent use.
type Cache struct {
	limits Limits
	size   int

	mu    sync.Mutex
	order *list.List            // of cached, most recently used first
	byKey map[Key]*list.Element // by program hash
}

type cached struct {
	key Key
	p   *Program
}

// NewCache returns a cache of at most size programs (DefaultCacheSize if size
// is not positive) that run with the given limits.
func NewCache(size int, limits Limits) *Cache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	return &Cache{limits: limits.withDefaults(), size: size, order: list.New(), byKey: make(map[Key]*list.Element)}
}

// Program returns the compiled program for src, compiling it on a miss.
// Compile errors are not kept: a stored program compiled when it was saved.
func (c *Cache) Program(src string) (*Program, error) { return c.program(KeyOf(src), src) }

// program is Program with the key already computed (a worker is sent it).
func (c *Cache) program(key Key, src string) (*Program, error) {
	c.mu.Lock()
	if e, ok := c.byKey[key]; ok {
		c.order.MoveToFront(e)
		c.mu.Unlock()
		return e.Value.(cached).p, nil
	}
	c.mu.Unlock()

	// Compile outside the lock; two goroutines missing on the same text both
	// compile and the second keeps the first's result.
	p, err := Compile(src)
	if err != nil {
		return nil, err
	}
	p = p.WithLimits(c.limits)

	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(cached).p, nil
	}
	c.byKey[key] = c.order.PushFront(cached{key: key, p: p})
	if c.order.Len() > c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.byKey, oldest.Value.(cached).key)
	}
	return p, nil
}

// Len returns how many programs the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
