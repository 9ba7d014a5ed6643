package limit

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Tokens keeps token buckets where every process takes from the same ones
// (the store: a row of the database each process uses).
type Tokens interface {
	TakeTokens(ctx context.Context, b store.TokenBucket, want int, now time.Time) (took int, left float64, err error)
}

// Shared spends the tokens of buckets that all of Herald's processes
// share, so that a limit holds for the cluster and not for each process.
// Going to the database for every request would cost a round trip each, so
// a process takes a few tokens at once and spends them locally; every
// token still comes out of the shared bucket, so all processes together
// never spend more than its burst and rate allow. Tokens a process took
// and did not spend within grantLife lapse unspent (a little under the
// limit, never over it), and while the database says a bucket is empty
// the process answers from what it learned, without asking again until a
// token is due.
type Shared struct {
	store Tokens

	mu     sync.Mutex
	grants map[string]*grant
	swept  time.Time
}

// grant is what one process holds of one bucket.
type grant struct {
	mu sync.Mutex // held while the store is asked: one asks, the others wait for its answer
	// tokens were taken from the store at taken and are not spent yet.
	tokens int
	taken  time.Time
	// empty is when the store, found empty, has its next token.
	empty time.Time
	// left is the store's tokens after the last take.
	left float64
	used time.Time
	// bucket is the rate and burst the tokens were taken under.
	bucket store.TokenBucket
}

// grantLife is how long tokens taken from the store may be spent.
const grantLife = time.Second

// sweepEvery is how often grants unused that long are forgotten (a
// forgotten grant costs one more question to the store, nothing else).
const sweepEvery = time.Minute

// NewShared spends tokens of the buckets in st.
func NewShared(st Tokens) *Shared { return &Shared{store: st, grants: map[string]*grant{}} }

// Decision is the answer of Take.
type Decision struct {
	OK bool
	// Wait is how long until the bucket has a token, when not OK.
	Wait time.Duration
	// Left is about how many tokens remain: this process's and the
	// store's as last seen.
	Left float64
}

// Take spends one token of b, taking up to batch more from the store when
// this process has none.
func (s *Shared) Take(ctx context.Context, b store.TokenBucket, batch int) (Decision, error) {
	now := time.Now()
	g := s.grant(b.ID, now)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.used = now
	if g.bucket != b {
		// A new rate or burst: what was taken under the old one lapses.
		g.bucket, g.tokens, g.empty = b, 0, time.Time{}
	}
	if g.tokens > 0 && now.Sub(g.taken) < grantLife {
		g.tokens--
		return Decision{OK: true, Left: float64(g.tokens) + g.left}, nil
	}
	g.tokens = 0
	if now.Before(g.empty) {
		return Decision{Wait: g.empty.Sub(now), Left: g.left}, nil
	}
	took, left, err := s.store.TakeTokens(ctx, b, max(1, batch), now)
	if err != nil {
		return Decision{}, err
	}
	g.left = left
	if took == 0 {
		wait := b.TimeFor(1 - left)
		g.empty = now.Add(wait)
		return Decision{Wait: wait, Left: left}, nil
	}
	g.tokens, g.taken = took-1, now
	return Decision{OK: true, Left: float64(g.tokens) + left}, nil
}

// Wait takes a token of b, waiting for one while it can come before
// deadline. It reports false, spending nothing, when the token would come
// too late or ctx ends first.
//
// When the bucket is empty it waits for batch tokens rather than one, and
// a little more at random, so that processes waiting on one bucket do not
// all come back at the same instant for every token.
func (s *Shared) Wait(ctx context.Context, b store.TokenBucket, batch int, deadline time.Time) (bool, error) {
	for {
		d, err := s.Take(ctx, b, batch)
		if err != nil || d.OK {
			return d.OK, err
		}
		wait := max(d.Wait, b.TimeFor(float64(batch)-d.Left))
		wait += time.Duration(rand.Int64N(int64(wait/10) + 1))
		if time.Now().Add(wait).After(deadline) {
			return false, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, nil
		case <-t.C:
		}
	}
}

func (s *Shared) grant(id string, now time.Time) *grant {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.swept) >= sweepEvery {
		s.swept = now
		for k, g := range s.grants {
			// TryLock: a grant in use is not idle.
			if g.mu.TryLock() {
				if now.Sub(g.used) >= sweepEvery {
					delete(s.grants, k)
				}
				g.mu.Unlock()
			}
		}
	}
	g := s.grants[id]
	if g == nil {
		g = &grant{}
		s.grants[id] = g
	}
	return g
}
