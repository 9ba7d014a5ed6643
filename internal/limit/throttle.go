package limit

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Throttle slows down clients that present wrong credentials: each client
// (an IPv4 address or an IPv6 /64) has a token bucket that only failures
// drain. While its bucket is empty the client is refused before its
// credential is even looked at, so guessing is held to the refill rate;
// clients that sign in correctly never spend a token.
//
// Memory is bounded: at most maxClients buckets are kept, buckets that
// have refilled carry no state and are dropped first, and when the table
// is full of clients still being slowed, newcomers share one bucket.
type Throttle struct {
	every rate.Limit
	burst int
	max   int

	mu       sync.Mutex
	clients  map[netip.Addr]*rate.Limiter
	overflow *rate.Limiter
	swept    time.Time
}

// DefaultMaxClients bounds the clients a Throttle remembers (about 200 bytes
// each).
const DefaultMaxClients = 100_000

// NewThrottle allows burst failures at once per client, then perMinute a
// minute. perMinute <= 0 turns throttling off (a nil *Throttle).
func NewThrottle(perMinute, burst int) *Throttle {
	if perMinute <= 0 {
		return nil
	}
	every := rate.Limit(float64(perMinute) / 60)
	return &Throttle{
		every: every, burst: max(1, burst), max: DefaultMaxClients,
		clients:  map[netip.Addr]*rate.Limiter{},
		overflow: rate.NewLimiter(every, max(1, burst)),
	}
}

// Check reports whether client may present a credential now; when not, the
// wait until it may. A nil Throttle allows everything.
func (t *Throttle) Check(client netip.Addr) (wait time.Duration, ok bool) {
	if t == nil {
		return 0, true
	}
	now := time.Now()
	t.mu.Lock()
	lim := t.clients[bucket(client)]
	if lim == nil && len(t.clients) >= t.max {
		lim = t.overflow
	}
	t.mu.Unlock()
	if lim == nil {
		return 0, true
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return 0, true
	}
	return time.Duration((1 - tokens) / float64(t.every) * float64(time.Second)), false
}

// Fail records a wrong credential from client.
func (t *Throttle) Fail(client netip.Addr) {
	if t == nil {
		return
	}
	now := time.Now()
	k := bucket(client)
	t.mu.Lock()
	lim := t.clients[k]
	if lim == nil {
		if len(t.clients) >= t.max {
			t.sweep(now)
		}
		if len(t.clients) < t.max {
			lim = rate.NewLimiter(t.every, t.burst)
			t.clients[k] = lim
		} else {
			lim = t.overflow
		}
	}
	t.mu.Unlock()
	lim.AllowN(now, 1)
}

// sweep drops the buckets that have refilled: they would allow as much as
// a new one. It runs at most once a second, under mu.
func (t *Throttle) sweep(now time.Time) {
	if now.Sub(t.swept) < time.Second {
		return
	}
	t.swept = now
	for k, lim := range t.clients {
		if lim.TokensAt(now) >= float64(t.burst) {
			delete(t.clients, k)
		}
	}
}

// Len is how many clients are remembered.
func (t *Throttle) Len() int {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.clients)
}
